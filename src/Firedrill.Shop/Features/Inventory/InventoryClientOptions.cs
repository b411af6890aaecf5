using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace Firedrill.Shop.Features.Inventory;

/// <summary>
/// How the shop calls the inventory service. The defaults are the fix; every guard can be
/// switched off (zero) so the incidents can run with the bad settings real teams ship.
/// </summary>
public sealed class InventoryClientOptions
{
    public const string SectionName = "InventoryClient";

    [Required]
    public Uri BaseAddress { get; set; } = new("http://127.0.0.1:5090");

    /// <summary>Bounds the whole call, retries included. Zero: no bound.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:10:00")]
    public TimeSpan TotalTimeout { get; set; } = TimeSpan.FromSeconds(3);

    /// <summary>Bounds each attempt, inside the circuit breaker so slow calls count as failures. Zero: no bound.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:10:00")]
    public TimeSpan AttemptTimeout { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Retries after the first attempt, exponential with jitter. Zero: none.</summary>
    [Range(0, 1000)]
    public int MaxRetries { get; set; } = 2;

    [Range(typeof(TimeSpan), "00:00:00", "00:01:00")]
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromMilliseconds(100);

    public bool RetryJitter { get; set; } = true;

    /// <summary>
    /// Retries allowed per call, on average (<see cref="RetryBudget"/>): 0.1 keeps the calls reaching a
    /// slow or failing inventory within 1.1× the requests however many retries each may make. 0 = no budget.
    /// </summary>
    [Range(0.0, 10.0)]
    public double RetryBudgetRatio { get; set; } = 0.1;

    /// <summary>Retries the budget allows in a burst before the ratio applies.</summary>
    [Range(1, 10_000)]
    public int RetryBudgetReserve { get; set; } = 10;

    public bool CircuitBreakerEnabled { get; set; } = true;

    [Range(0.01, 1.0)]
    public double BreakerFailureRatio { get; set; } = 0.5;

    [Range(2, 10_000)]
    public int BreakerMinimumThroughput { get; set; } = 10;

    [Range(typeof(TimeSpan), "00:00:00.500", "00:10:00")]
    public TimeSpan BreakerSamplingDuration { get; set; } = TimeSpan.FromSeconds(10);

    [Range(typeof(TimeSpan), "00:00:00.500", "00:10:00")]
    public TimeSpan BreakerBreakDuration { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>The bulkhead: calls to inventory in flight at once from this replica. Zero: unbounded.</summary>
    [Range(0, 10_000)]
    public int MaxConcurrentCalls { get; set; } = 32;

    /// <summary>Calls that may wait for the bulkhead; beyond it they are rejected at once.</summary>
    [Range(0, 10_000)]
    public int BulkheadQueueLimit { get; set; }

    /// <summary>Answer "availability unknown" when inventory fails, where a degraded answer is acceptable.</summary>
    public bool FallbackEnabled { get; set; } = true;
}

[OptionsValidator]
internal sealed partial class InventoryClientOptionsValidator : IValidateOptions<InventoryClientOptions>;
