using Microsoft.Extensions.Options;

namespace Firedrill.Shop.Features.Orders;

public sealed class OrdersOptions
{
    public const string SectionName = "Orders";

    /// <summary>Reserve stock at the inventory service before an order is written.</summary>
    public bool ReserveInventory { get; set; } = true;

    /// <summary>
    /// Reproduces db-pool-exhaustion (held-across-call): reserve the stock while holding a pooled
    /// connection and an open transaction (<see cref="OrderService"/>'s
    /// <c>PlaceHoldingConnectionAcrossReservationAsync</c>). Off: the reservation comes first,
    /// outside any transaction.
    /// </summary>
    public bool ReserveInsideTransaction { get; set; }

    /// <summary>
    /// Reproduces random-500s (shared-state): order lookups run on one connection that the
    /// <see cref="OrderStore"/> singleton keeps for every request (<c>FindOnSharedConnectionAsync</c>);
    /// two at once fail. Off: a pooled connection per lookup.
    /// </summary>
    public bool SharedConnectionReads { get; set; }

    /// <summary>
    /// Reproduces random-500s (bad-record): the stored total is read straight into a decimal, so an
    /// order whose total is NaN fails every time (<see cref="OrderStore"/>'s <c>TotalColumn</c>).
    /// Off: such a total reads as missing and the lines' sum answers.
    /// </summary>
    public bool ReadTotalsStrictly { get; set; }

    /// <summary>
    /// Reproduces random-500s (unhandled-downstream): reservations through
    /// <c>InventoryClient.ReserveUnguardedAsync</c>, which lets an inventory error escape as an
    /// unhandled exception (a 500). Off: it becomes a 503 problem naming the cause.
    /// </summary>
    public bool UnguardedReservation { get; set; }

    /// <summary>
    /// Reproduces slow-in-production (n-plus-one): a customer's history loads each order's lines
    /// in a query of its own (<see cref="OrderStore"/>'s <c>FindByCustomerOneQueryPerOrderAsync</c>).
    /// Off: one set-based query for the page and its lines.
    /// </summary>
    public bool HistoryQueryPerOrder { get; set; }

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
