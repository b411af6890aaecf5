using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace Firedrill.Shop.Features.Catalog;

/// <summary>How the shop asks inventory about stock: on a request's path, and in the background for stock badges.</summary>
public sealed class AvailabilityOptions
{
    public const string SectionName = "Availability";

    /// <summary>
    /// The availability endpoint waits synchronously on the inventory call
    /// (<see cref="AvailabilityLookup.BlockingInventoryLookup"/>) instead of awaiting it: the
    /// thread-pool-starvation incident (sync-over-async). False, awaited, is correct.
    /// </summary>
    public bool BlockingInventoryLookup { get; set; }

    /// <summary>Keep a stock badge per product, refreshed from inventory in the background after each product read.</summary>
    public bool StockBadges { get; set; }

    /// <summary>
    /// Each badge refresh is <c>Task.Run</c> around a synchronous wait, on the shared thread pool
    /// (<see cref="StockBadges.SharedPoolRefresh"/>): the thread-pool-starvation incident
    /// (blocking-background-work). False, a bounded queue and a fixed number of workers, is correct.
    /// </summary>
    public bool RefreshOnSharedPool { get; set; }

    /// <summary>Workers draining the refresh queue (read at start).</summary>
    [Range(1, 64)]
    public int RefreshWorkers { get; set; } = 2;

    /// <summary>Refreshes waiting at most; beyond it the oldest is dropped (read at start). A badge is best effort.</summary>
    [Range(1, 100_000)]
    public int RefreshQueueLimit { get; set; } = 100;
}

[OptionsValidator]
internal sealed partial class AvailabilityOptionsValidator : IValidateOptions<AvailabilityOptions>;
