using Microsoft.Extensions.Options;

namespace Firedrill.Shop.Features.Orders;

public sealed class OrdersOptions
{
    public const string SectionName = "Orders";

    /// <summary>Reserve stock at the inventory service before an order is written.</summary>
    public bool ReserveInventory { get; set; } = true;

    /// <summary>
    /// Lock the ordered products' rows (<c>SELECT … FOR UPDATE</c>) and hold the lock across the call
    /// to the inventory service (<see cref="OrderService"/>'s <c>PlaceHoldingStockLockAcrossInventoryCallAsync</c>):
    /// the autoscaling-no-relief incident, variant hot-row. Every order for a popular product queues
    /// on its row for a network call, and more replicas only add holders to the queue. False (correct):
    /// reserve first, then one short transaction.
    /// </summary>
    public bool StockLockedAcrossInventoryCall { get; set; }
}

/// <summary>A boolean binds or fails to bind; there is nothing more to check.</summary>
internal sealed class OrdersOptionsValidator : IValidateOptions<OrdersOptions>
{
    public ValidateOptionsResult Validate(string? name, OrdersOptions options) => ValidateOptionsResult.Success;
}
