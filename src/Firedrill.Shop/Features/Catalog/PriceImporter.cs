using Firedrill.Shop.Observability;
using Microsoft.Extensions.Options;

namespace Firedrill.Shop.Features.Catalog;

/// <summary>
/// Bulk price imports. Every write of a product goes through the catalog, which owns the cache:
/// write, then invalidate here, in Redis and (by broadcast) in every other replica's memory.
/// </summary>
internal sealed class PriceImporter(ProductStore store, ProductCache cache, IOptionsMonitor<CatalogOptions> options, ShopMetrics metrics)
{
    public const int MaxItems = 1000;

    public Task<IReadOnlyList<long>> ImportAsync(long[] ids, decimal[] prices, CancellationToken cancellationToken) =>
        options.CurrentValue.PriceImportBypassesCache
            ? BulkPriceImportWithoutInvalidation(ids, prices, cancellationToken)
            : ImportThroughCatalogAsync(ids, prices, cancellationToken);

    private async Task<IReadOnlyList<long>> ImportThroughCatalogAsync(long[] ids, decimal[] prices, CancellationToken cancellationToken)
    {
        var updated = await store.ImportPricesAsync(ids, prices, cancellationToken);
        metrics.PriceChanges(updated.Count, "import");
        // After the commit, so no replica can re-cache an old price from the database.
        await cache.InvalidateAsync(updated, cancellationToken);
        return updated;
    }

    /// <summary>
    /// Reproduces the stale-cache incident (variant bypassed-invalidation): the import is "just SQL",
    /// written beside the catalog instead of through it, so nothing tells any cache — not this
    /// replica's memory, not Redis, not the other replicas — and every copy stays until it expires.
    /// </summary>
    private async Task<IReadOnlyList<long>> BulkPriceImportWithoutInvalidation(long[] ids, decimal[] prices, CancellationToken cancellationToken)
    {
        var updated = await store.ImportPricesAsync(ids, prices, cancellationToken);
        metrics.PriceChanges(updated.Count, "import");
        return updated;
    }
}
