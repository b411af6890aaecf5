using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace Firedrill.Shop.Http;

/// <summary>
/// Admission control: how much work a replica takes on at once, and how long a request may wait
/// for room before it is shed. Past capacity, a replica that takes everything serves everyone
/// late (a queue without limit); one that sheds early serves the admitted in time and tells the
/// rest when to come back (503 + Retry-After), which a client can act on.
/// </summary>
public sealed class AdmissionOptions
{
    public const string SectionName = "Admission";

    public bool Enabled { get; set; } = true;

    /// <summary>Requests served at once; past it, requests wait (up to <see cref="QueueLimit"/> of them).</summary>
    [Range(1, 100_000)]
    public int MaxConcurrentRequests { get; set; } = 128;

    /// <summary>Requests that may wait for room; one more is shed at once.</summary>
    [Range(0, 100_000)]
    public int QueueLimit { get; set; } = 256;

    /// <summary>A request that waited this long without room is shed: a queue bounded in time as well as length.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:00:30")]
    public TimeSpan MaxQueueTime { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>
    /// Whether a write's work (POST, PUT, PATCH, DELETE) is cancelled when its caller goes away (the
    /// endpoints' CancellationToken is the connection's abort). Off by default: once admitted, a write
    /// runs to its end, bounded by its own timeouts (the pool's, the commands', the inventory
    /// client's), and a payment the caller gave up on is committed and kept under its idempotency
    /// key, so the retry replays it instead of doing it again. Cancelling a PostgreSQL command is not
    /// free either: the driver opens a new connection to send the cancel, and a cancel not answered in
    /// time closes the command's connection, so the pool opens another; each a backend the postmaster
    /// forks one after the other (22 to 37 ms each on the 2-core lab machines, <c>pgbench -C</c>).
    /// When every payer timed out at once, those cancels and reconnections outran the forks and the
    /// replicas never recovered while the payers retried (the fault suite's relay-killed). Reads are
    /// always cancelled with their caller: nothing of theirs needs to outlive it, and a heavy read left
    /// to finish keeps loading the database after everyone stopped waiting for it. Waiting for
    /// admission ends when the caller leaves, whatever the method.
    /// </summary>
    public bool CancelWritesOnClientAbort { get; set; }

    /// <summary>The Retry-After a shed request is told, in seconds.</summary>
    [Range(1, 3600)]
    public int RetryAfterSeconds { get; set; } = 1;
}

[OptionsValidator]
internal sealed partial class AdmissionOptionsValidator : IValidateOptions<AdmissionOptions>;
