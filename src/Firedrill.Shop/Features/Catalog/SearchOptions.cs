using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace Firedrill.Shop.Features.Catalog;

/// <summary>Catalog search: the result cache and the per-request view of the results.</summary>
public sealed class SearchOptions
{
    public const string SectionName = "Search";

    /// <summary>Cache search pages per request URL (off: every search reads PostgreSQL).</summary>
    public bool CacheResults { get; set; }

    /// <summary>
    /// The cache is a static dictionary that is never evicted (<see cref="SearchCache.UnboundedSearchCache"/>):
    /// the memory-growth incident (unbounded-cache). False, a size-limited MemoryCache with expiration, is correct.
    /// </summary>
    public bool UnboundedCache { get; set; }

    /// <summary>Pages the bounded cache keeps at most (read at start).</summary>
    [Range(1, 1_000_000)]
    public int CacheSizeLimit { get; set; } = 500;

    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")]
    public TimeSpan CacheExpiration { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// Each request's results view drops the handle of its options subscription
    /// (<see cref="SearchResultsView.WatchWithoutUnsubscribing"/>): the memory-growth incident
    /// (undisposed-subscription). False, the subscription disposed with the request, is correct.
    /// </summary>
    public bool LeakOptionsSubscription { get; set; }
}

[OptionsValidator]
internal sealed partial class SearchOptionsValidator : IValidateOptions<SearchOptions>;
