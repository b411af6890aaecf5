using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace Firedrill.Shop.Data;

/// <summary>The connection pool, deliberately sized; the lab shrinks it for the pool incidents.</summary>
public sealed class DbOptions
{
    public const string SectionName = "Db";

    [Range(1, 1000)]
    public int MaxPoolSize { get; set; } = 50;

    /// <summary>How long a request waits for a pooled connection before failing (Npgsql <c>Timeout</c>).</summary>
    [Range(1, 300)]
    public int AcquireTimeoutSeconds { get; set; } = 5;

    [Range(1, 600)]
    public int CommandTimeoutSeconds { get; set; } = 30;

    /// <summary>Npgsql automatic preparation of the most used statements (measured +20% on inserts).</summary>
    [Range(0, 1000)]
    public int MaxAutoPrepare { get; set; } = 20;
}

[OptionsValidator]
internal sealed partial class DbOptionsValidator : IValidateOptions<DbOptions>;
