using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace Firedrill.Shop.Data;

/// <summary>The connection pool, deliberately sized; the lab shrinks it for the pool incidents.</summary>
public sealed class DbOptions
{
    public const string SectionName = "Db";

    /// <summary>
    /// Connections per replica, sized by Little's law rather than "plenty": a replica's requests hold a
    /// connection for a few milliseconds each, so even a few hundred requests a second keep only a
    /// handful busy, and 20 leaves room for bursts. A pool is also how many connections a replica opens
    /// at once when it starts cold or the database comes back, and PostgreSQL forks its backends one
    /// after the other (22 to 37 ms each on the lab's 2-core machines, <c>pgbench -C</c>): with 50, two
    /// replacement replicas under retrying clients spent longer opening connections than the clients
    /// waited, and never caught up (the fault suite's relay-killed).
    /// </summary>
    [Range(1, 1000)]
    public int MaxPoolSize { get; set; } = 20;

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
