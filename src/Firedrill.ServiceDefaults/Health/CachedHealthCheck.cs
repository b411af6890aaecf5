using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Firedrill.ServiceDefaults.Health;

/// <summary>
/// One dependency check, bounded and cached, for readiness: a result answers for
/// <c>ttl</c>; while a check runs, every probe that arrives waits for that one run instead of
/// starting its own (so an outage costs the dependency one attempt per interval, not one per
/// probe); and a run is bounded by its own timeout, whichever probe started it and whether or
/// not that probe is still waiting. A run that times out or throws reports the check's own
/// failure status (<c>Degraded</c> for a dependency the service can do without, such as a cache).
/// </summary>
public sealed class CachedHealthCheck(Func<TimeSpan> ttl, TimeSpan timeout, TimeProvider time, HealthStatus failureStatus = HealthStatus.Unhealthy)
{
    private readonly Lock _gate = new();
    private Task<HealthCheckResult>? _running;
    private (HealthCheckResult Result, long At)? _last;

    /// <summary>Runs of the underlying check so far (each probe served from the cache or a shared run adds none).</summary>
    public int Runs { get; private set; }

    /// <param name="check">The dependency check, run only when no fresh result exists and no run is under way.</param>
    public Task<HealthCheckResult> CheckAsync(Func<CancellationToken, Task<HealthCheckResult>> check, CancellationToken cancellationToken)
    {
        Task<HealthCheckResult> running;
        lock (_gate)
        {
            if (_last is { } last && time.GetElapsedTime(last.At) < ttl())
            {
                return Task.FromResult(last.Result);
            }

            if (_running is null)
            {
                Runs++;
                _running = RunAsync(check);
            }

            running = _running;
        }

        return running.WaitAsync(cancellationToken);
    }

    private async Task<HealthCheckResult> RunAsync(Func<CancellationToken, Task<HealthCheckResult>> check)
    {
        // Off the caller's stack, so the lock above is never held across the check.
        await Task.Yield();
        HealthCheckResult result;
        using var bounded = new CancellationTokenSource(timeout, time);
        try
        {
            result = await check(bounded.Token);
        }
        catch (OperationCanceledException) when (bounded.IsCancellationRequested)
        {
            result = new HealthCheckResult(failureStatus, $"no answer within {timeout.TotalSeconds:0.#} s");
        }
        catch (Exception ex)
        {
            result = new HealthCheckResult(failureStatus, ex.Message, ex);
        }

        lock (_gate)
        {
            (_last, _running) = ((result, time.GetTimestamp()), null);
        }

        return result;
    }
}
