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

    /// <summary>The Retry-After a shed request is told, in seconds.</summary>
    [Range(1, 3600)]
    public int RetryAfterSeconds { get; set; } = 1;
}

[OptionsValidator]
internal sealed partial class AdmissionOptionsValidator : IValidateOptions<AdmissionOptions>;
