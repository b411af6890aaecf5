using Microsoft.Extensions.Options;

namespace Firedrill.Shop.Features.Orders;

public sealed class OrdersOptions
{
    public const string SectionName = "Orders";

    /// <summary>Reserve stock at the inventory service before an order is written.</summary>
    public bool ReserveInventory { get; set; } = true;
}

/// <summary>A boolean binds or fails to bind; there is nothing more to check.</summary>
internal sealed class OrdersOptionsValidator : IValidateOptions<OrdersOptions>
{
    public ValidateOptionsResult Validate(string? name, OrdersOptions options) => ValidateOptionsResult.Success;
}
