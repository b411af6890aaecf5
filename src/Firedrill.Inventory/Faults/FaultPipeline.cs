using Firedrill.ServiceDefaults.Http;
using Microsoft.Extensions.Options;
using Polly;
using Polly.RateLimiting;
using Polly.Simmy;
using Polly.Simmy.Latency;
using Polly.Simmy.Outcomes;

namespace Firedrill.Inventory.Faults;

/// <summary>
/// The faults the lab switches on, as a Polly pipeline around each <c>/inventory</c> request,
/// outermost first: capacity (queue for a permit) → latency (a real, cancellable delay while
/// holding the permit) → error (a 503 instead of the answer). Every strategy reads the current
/// options per request, so a change through <c>/_lab/config</c> applies to the next request.
/// </summary>
internal sealed class FaultPipeline
{
    /// <summary>Set on the context when the error strategy answered instead of the endpoint.</summary>
    public static readonly ResiliencePropertyKey<bool> ErrorInjected = new("firedrill.inventory.error-injected");

    /// <summary>Set by the filter: whether the request reads stock (GET) or changes reservations.</summary>
    public static readonly ResiliencePropertyKey<bool> IsRead = new("firedrill.inventory.is-read");

    public FaultPipeline(IOptionsMonitor<InventoryOptions> options, CapacityLimiter capacity, TimeProvider time)
    {
        Pipeline = new ResiliencePipelineBuilder<object?> { TimeProvider = time }
            .AddRateLimiter(new RateLimiterStrategyOptions
            {
                RateLimiter = args => capacity.AcquireAsync(args.Context.CancellationToken),
            })
            .AddChaosLatency(new ChaosLatencyStrategyOptions
            {
                InjectionRate = 1,
                // Zero latency skips the delay altogether.
                LatencyGenerator = args => ValueTask.FromResult(InScope(options.CurrentValue.LatencyScope, args.Context.Properties.GetValue(IsRead, true))
                    ? InjectedLatency.Next(options.CurrentValue, Random.Shared.NextDouble())
                    : TimeSpan.Zero),
            })
            .AddChaosOutcome(new ChaosOutcomeStrategyOptions<object?>
            {
                InjectionRateGenerator = _ => ValueTask.FromResult(options.CurrentValue.ErrorRate),
                OutcomeGenerator = _ => ValueTask.FromResult<Outcome<object?>?>(
                    Outcome.FromResult<object?>(Problems.Unavailable("Inventory could not serve the request."))),
                OnOutcomeInjected = args =>
                {
                    args.Context.Properties.Set(ErrorInjected, true);
                    return default;
                },
            })
            .Build();
    }

    public ResiliencePipeline<object?> Pipeline { get; }

    private static bool InScope(LatencyScope scope, bool isRead) => scope switch
    {
        LatencyScope.Reads => isRead,
        LatencyScope.Reservations => !isRead,
        _ => true,
    };
}
