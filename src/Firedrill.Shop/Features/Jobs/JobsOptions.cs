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

    /// <summary>Guard each window with a PostgreSQL advisory lock so one replica runs it. Off: every replica runs every window.</summary>
    public bool UseDistributedLock { get; set; } = true;

    [Range(1, 1000)]
    public int InventorySyncBatchSize { get; set; } = 20;
}

[OptionsValidator]
internal sealed partial class JobsOptionsValidator : IValidateOptions<JobsOptions>;
