using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace Firedrill.Shop.Features.Jobs;

public sealed class JobsOptions
{
    public const string SectionName = "Jobs";

    public bool InventorySyncEnabled { get; set; } = true;

    /// <summary>The schedule: one run per window of this length, windows aligned to the clock so every replica agrees on them.</summary>
    [Range(typeof(TimeSpan), "00:00:00.500", "1.00:00:00")]
    public TimeSpan InventorySyncInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Each replica's tick for a window comes at a random point within this much of the window's start,
    /// so the replicas do not all hit the database and inventory at the same instant. It is also why a
    /// lock released the moment a fast run ends lets a later tick run the window again.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "01:00:00")]
    public TimeSpan InventorySyncJitter { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>How the replicas agree that one of them runs a window.</summary>
    public JobLock Lock { get; set; } = JobLock.Lease;

    /// <summary>
    /// The lease (ShedLock's lockAtMostFor): a holder that dies keeps its window's lock at most this
    /// long. Longer than any run, so a slow run is never joined by a second one.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "1.00:00:00")]
    public TimeSpan LockAtMost { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// ShedLock's lockAtLeastFor: a finished run keeps the lock until this long after it was taken, so a
    /// replica whose tick comes later in the same window finds it held. At least the jitter; 0 releases
    /// the lock when the run ends (the duplicate-scheduled-job incident's lock released early).
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "1.00:00:00")]
    public TimeSpan LockAtLeast { get; set; } = TimeSpan.FromSeconds(4);

    [Range(1, 1000)]
    public int InventorySyncBatchSize { get; set; } = 20;
}

/// <summary>How the replicas running one schedule agree that one of them runs a window.</summary>
public enum JobLock
{
    /// <summary>
    /// A lease per window (ShedLock's design, the window as the lock's name): lock-at-most bounds how
    /// long a dead holder keeps it, lock-at-least keeps it past a fast run for the rest of the window.
    /// </summary>
    Lease,

    /// <summary>No lock: every replica runs every window (the duplicate-scheduled-job incident).</summary>
    None,

    /// <summary>
    /// One lock row for the whole job, with no expiry, removed by its holder when it finishes (the
    /// duplicate-scheduled-job incident's lease that never expires): a holder killed mid-run never
    /// removes it, and every later window is skipped.
    /// </summary>
    RowWithoutExpiry,
}

[OptionsValidator]
internal sealed partial class JobsOptionsAttributesValidator : IValidateOptions<JobsOptions>;

/// <summary>The attributes' rules, plus: ticks fall inside their window, and lock-at-least ≤ lock-at-most (as ShedLock requires).</summary>
internal sealed class JobsOptionsValidator : IValidateOptions<JobsOptions>
{
    private readonly JobsOptionsAttributesValidator _attributes = new();

    public ValidateOptionsResult Validate(string? name, JobsOptions options)
    {
        var result = _attributes.Validate(name, options);
        if (result.Failed)
        {
            return result;
        }

        if (options.InventorySyncJitter >= options.InventorySyncInterval)
        {
            return ValidateOptionsResult.Fail(
                $"Jobs:InventorySyncJitter ({options.InventorySyncJitter}) must be shorter than Jobs:InventorySyncInterval ({options.InventorySyncInterval}).");
        }

        return options.LockAtLeast <= options.LockAtMost
            ? result
            : ValidateOptionsResult.Fail($"Jobs:LockAtLeast ({options.LockAtLeast}) must not exceed Jobs:LockAtMost ({options.LockAtMost}).");
    }
}
