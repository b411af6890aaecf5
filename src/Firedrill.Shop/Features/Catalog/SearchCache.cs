using System.Collections.Concurrent;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Options;

namespace Firedrill.Shop.Features.Catalog;

/// <summary>
/// Search pages by the request's query string, as the search endpoint received it. The key is
/// whatever traffic sends (cache-busters, tracking parameters), so the set of keys is unbounded:
/// only a cache with a size limit and an expiration keeps memory bounded.
/// </summary>
internal sealed class SearchCache(IOptionsMonitor<SearchOptions> options) : IDisposable
{
    private readonly MemoryCache _bounded = new(new MemoryCacheOptions { SizeLimit = options.CurrentValue.CacheSizeLimit });

    public async Task<ProductPage> GetOrSearchAsync(string key, Func<CancellationToken, Task<ProductPage>> search, CancellationToken cancellationToken)
    {
        var settings = options.CurrentValue;
        if (!settings.CacheResults)
        {
            return await search(cancellationToken);
        }

        if (settings.UnboundedCache)
        {
            return await UnboundedSearchCache.GetOrSearchAsync(key, search, cancellationToken);
        }

        if (_bounded.TryGetValue(key, out ProductPage? cached) && cached is not null)
        {
            return cached;
        }

        var page = await search(cancellationToken);
        _bounded.Set(key, page, new MemoryCacheEntryOptions { Size = 1, AbsoluteExpirationRelativeToNow = settings.CacheExpiration });
        return page;
    }

    /// <summary>Pages the bounded cache holds now.</summary>
    public int BoundedCount => _bounded.Count;

    public void Dispose() => _bounded.Dispose();

    /// <summary>
    /// Reproduces memory-growth (unbounded-cache): a static dictionary keyed by the raw query
    /// string, never evicted. Every distinct URL adds a page that lives as long as the process.
    /// </summary>
    internal static class UnboundedSearchCache
    {
        private static readonly ConcurrentDictionary<string, ProductPage> Pages = new(StringComparer.Ordinal);

        public static int Count => Pages.Count;

        public static async Task<ProductPage> GetOrSearchAsync(string key, Func<CancellationToken, Task<ProductPage>> search, CancellationToken cancellationToken)
        {
            if (Pages.TryGetValue(key, out var cached))
            {
                return cached;
            }

            var page = await search(cancellationToken);
            Pages[key] = page;
            return page;
        }
    }
}
