using Microsoft.Extensions.Options;

namespace Firedrill.Shop.Features.Inventory;

/// <summary>
/// gRPC's retry throttling for one connection pool's calls: a bucket of
/// <see cref="InventoryClientOptions.RetryBudgetTokens"/>, one token lost per failed attempt,
/// <see cref="InventoryClientOptions.RetryBudgetRatio"/> of one regained per success, and retries
/// allowed only while more than half remain. A healthy dependency keeps the bucket full and an
/// odd failure is retried; a failing one drains it within a few calls, after which each request
/// reaches it once — retries stop multiplying the load exactly when the load hurts.
/// </summary>
internal sealed class RetryBudget(IOptionsMonitor<InventoryClientOptions> options)
{
    private readonly Lock _gate = new();
    private double _tokens = double.NaN;

    /// <summary>Records an attempt's outcome; true when a failed attempt may be retried.</summary>
    public bool Spend(bool failed)
    {
        var settings = options.CurrentValue;
        lock (_gate)
        {
            var max = settings.RetryBudgetTokens;
            _tokens = double.IsNaN(_tokens) ? max : Math.Min(_tokens, max);
            _tokens = failed ? Math.Max(0, _tokens - 1) : Math.Min(max, _tokens + settings.RetryBudgetRatio);
            return failed && _tokens > max / 2.0;
        }
    }
}
