using Firedrill.Shop.Observability;
using Microsoft.Extensions.Caching.Hybrid;
using Microsoft.Extensions.Options;

namespace Firedrill.Shop.Features.Catalog;

/// <summary>
/// Products through <see cref="HybridCache"/>: each replica's memory (L1) in front of Redis (L2).
/// HybridCache has no backplane, so a write removes the entry here and in Redis and then
/// broadcasts the key (<see cref="CacheInvalidationBus"/>) for the other replicas' L1.
/// </summary>
internal sealed class ProductCache(HybridCache cache, IOptionsMonitor<CatalogOptions> options, CacheInvalidationBus bus, ShopMetrics metrics)
{
    public static string Key(long productId) => $"product:{productId}";

    public async ValueTask<Product?> GetOrLoadAsync(long productId, Func<long, CancellationToken, Task<Product?>> load, CancellationToken cancellationToken)
    {
        var settings = options.CurrentValue;
        var entry = new HybridCacheEntryOptions { Expiration = settings.CacheExpiration, LocalCacheExpiration = settings.LocalCacheExpiration };
        var loader = new Loader(productId, load);
        var product = await cache.GetOrCreateAsync(
            Key(productId), loader, static (state, token) => state.LoadAsync(token), entry, cancellationToken: cancellationToken);
        metrics.CacheLookup(hit: !loader.Called);
        return product;
    }

    public async Task InvalidateAsync(IReadOnlyCollection<long> productIds, CancellationToken cancellationToken)
    {
        var keys = productIds.Select(Key).ToArray();
        await cache.RemoveAsync(keys, cancellationToken);
        // Off, this is the stale-cache incident (variant no-broadcast): only this replica and Redis forget the old value.
        if (options.CurrentValue.InvalidationBroadcast)
        {
            await bus.PublishAsync(keys);
        }
    }

    /// <summary>Remembers whether the factory ran: that is a miss on both levels.</summary>
    private sealed class Loader(long productId, Func<long, CancellationToken, Task<Product?>> load)
    {
        public bool Called { get; private set; }

        public async ValueTask<Product?> LoadAsync(CancellationToken cancellationToken)
        {
            Called = true;
            return await load(productId, cancellationToken);
        }
    }
}
