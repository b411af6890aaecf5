using System.Diagnostics.Metrics;
using Polly.CircuitBreaker;

namespace Firedrill.Shop.Features.Inventory;

/// <summary>
/// The inventory breakers' states as a gauge (<c>firedrill_inventory_breaker_state</c>: 0 closed,
/// 1 half-open, 2 open, 3 isolated), one series per pipeline, read from Polly's own state
/// providers. Polly's events count the transitions; this shows where each breaker is between them.
/// </summary>
internal sealed class BreakerState
{
    private readonly Dictionary<string, CircuitBreakerStateProvider?> _providers = new(StringComparer.Ordinal);

    public BreakerState(IMeterFactory meters) =>
        meters.Create(Observability.ShopMetrics.MeterName).CreateObservableGauge("firedrill.inventory.breaker.state", Observe, "{state}",
            "The inventory circuit breaker's state per pipeline: 0 closed, 1 half-open, 2 open, 3 isolated; absent without a breaker.");

    /// <summary>A fresh provider for the pipeline being built (a rebuild replaces the breaker and its state); null: the pipeline has no breaker.</summary>
    public CircuitBreakerStateProvider? Track(string pipeline, bool hasBreaker)
    {
        var provider = hasBreaker ? new CircuitBreakerStateProvider() : null;
        lock (_providers)
        {
            _providers[pipeline] = provider;
        }

        return provider;
    }

    private List<Measurement<int>> Observe()
    {
        lock (_providers)
        {
            return _providers.Where(pair => pair.Value is not null).Select(pair => new Measurement<int>(pair.Value!.CircuitState switch
            {
                CircuitState.Closed => 0,
                CircuitState.HalfOpen => 1,
                CircuitState.Open => 2,
                _ => 3,
            }, new KeyValuePair<string, object?>("pipeline", pair.Key))).ToList();
        }
    }
}
