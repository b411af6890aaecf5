using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace Firedrill.Shop.Features.Catalog;

public sealed class CatalogOptions
{
    public const string SectionName = "Catalog";

    /// <summary>How long a product stays in Redis (L2).</summary>
    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")]
    public TimeSpan CacheExpiration { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>How long a product stays in each replica's memory (L1): the bound on staleness if a broadcast is lost.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")]
    public TimeSpan LocalCacheExpiration { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Tell every replica to drop its L1 copy after a write (Redis pub/sub). False is the
    /// stale-cache incident, variant no-broadcast: the other replicas serve their copy until it expires.
    /// </summary>
    public bool InvalidationBroadcast { get; set; } = true;

    /// <summary>
    /// The bulk price import writes its SQL and returns without invalidating the cache
    /// (<see cref="PriceImporter"/>'s <c>BulkPriceImportWithoutInvalidation</c>): the stale-cache
    /// incident, variant bypassed-invalidation. False (correct): the import goes through the one
    /// owner of product writes, which invalidates every replica.
    /// </summary>
    public bool PriceImportBypassesCache { get; set; }

    [Range(1, 1000)]
    public int MaxPageSize { get; set; } = 100;

    /// <summary>
    /// Reproduces db-pool-exhaustion (leak-on-error): availability through
    /// <see cref="LeakyAvailabilityLookup"/>, whose fallback path returns without giving its
    /// connection back. Off: the cached product and no connection at all.
    /// </summary>
    public bool LeakyAvailabilityLookup { get; set; }
}

[OptionsValidator]
internal sealed partial class CatalogOptionsValidator : IValidateOptions<CatalogOptions>;
