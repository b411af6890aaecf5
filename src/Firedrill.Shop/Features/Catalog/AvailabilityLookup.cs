using System.Runtime.CompilerServices;
using Firedrill.Shop.Features.Inventory;
using Microsoft.Extensions.Options;

namespace Firedrill.Shop.Features.Catalog;

/// <summary>The availability endpoint's call to inventory, awaited as it should be, or blocked on as it was shipped once.</summary>
internal static class AvailabilityLookup
{
    public static async ValueTask<Availability> LookUpAsync(Product product, InventoryClient inventory, IOptionsMonitor<AvailabilityOptions> options,
        CancellationToken cancellationToken) =>
        options.CurrentValue.BlockingInventoryLookup
            ? BlockingInventoryLookup(product, inventory, cancellationToken)
            : await inventory.GetAvailabilityAsync(product.Id, product.Sku, cancellationToken);

    /// <summary>
    /// Reproduces thread-pool-starvation (sync-over-async): the request's thread-pool thread waits
    /// for the inventory call, and the call's own continuation needs another pool thread to finish.
    /// Under a burst every thread waits, and the pool adds threads far slower than requests arrive.
    /// </summary>
    // Its own frame (never inlined), so a thread dump names the defect.
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static Availability BlockingInventoryLookup(Product product, InventoryClient inventory, CancellationToken cancellationToken) =>
        inventory.GetAvailabilityAsync(product.Id, product.Sku, cancellationToken).GetAwaiter().GetResult();
}
