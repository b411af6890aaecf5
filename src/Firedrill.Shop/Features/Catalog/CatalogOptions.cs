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

    /// <summary>Tell every replica to drop its L1 copy after a write (Redis pub/sub).</summary>
    public bool InvalidationBroadcast { get; set; } = true;

    [Range(1, 1000)]
    public int MaxPageSize { get; set; } = 100;

    /// <summary>
    /// The largest price-import upload accepted (413 above it). 1 MiB, the gateway's default body
    /// limit: an edge that accepts less than this breaks the import only in production.
    /// </summary>
    [Range(1024, 64 * 1024 * 1024)]
    public long MaxImportBytes { get; set; } = 1024 * 1024;

    /// <summary>Rows (prices) one import may carry.</summary>
    [Range(1, 100_000)]
    public int MaxImportRows { get; set; } = 10_000;
}

[OptionsValidator]
internal sealed partial class CatalogOptionsValidator : IValidateOptions<CatalogOptions>;
