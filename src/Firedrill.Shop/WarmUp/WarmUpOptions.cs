using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace Firedrill.Shop.WarmUp;

/// <summary>What a starting replica does before it takes traffic (<see cref="WarmUpService"/>).</summary>
public sealed class WarmUpOptions
{
    public const string SectionName = "WarmUp";

    /// <summary>
    /// Warm up at start; off, a replica is ready as soon as its dependencies answer. Off by default in
    /// the lab: most incidents measure a replica's own pool from its first connection (some with a
    /// pool of two), and every fleet would start slower; autoscaling-no-relief turns it on.
    /// </summary>
    public bool Enabled { get; set; }

    /// <summary>
    /// Readiness says ready before the warm-up has run (<see cref="WarmUpHealthCheck"/>'s
    /// <c>ReadyBeforeWarmUp</c>): the autoscaling-no-relief incident, variant cold-replicas. Every
    /// replica the autoscaler adds takes its share of traffic while its pools are empty, its caches
    /// cold and its code paths not yet compiled. False (correct): ready only once warm.
    /// </summary>
    public bool ReadyBeforeWarmUp { get; set; }

    /// <summary>Database connections opened at once into the pool, so the first requests don't each open one.</summary>
    [Range(0, 1000)]
    public int Connections { get; set; } = 8;

    /// <summary>Requests the replica sends itself over its hot read paths (through its own HTTP pipeline).</summary>
    [Range(0, 100_000)]
    public int Requests { get; set; } = 150;

    [Range(1, 256)]
    public int Concurrency { get; set; } = 4;

    /// <summary>A warm-up that takes longer is cut short: the replica becomes ready rather than never.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "00:10:00")]
    public TimeSpan MaxDuration { get; set; } = TimeSpan.FromSeconds(30);
}

[OptionsValidator]
internal sealed partial class WarmUpOptionsValidator : IValidateOptions<WarmUpOptions>;
