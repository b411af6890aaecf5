using Firedrill.ServiceDefaults.Health;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Time.Testing;

namespace Firedrill.Shop.Tests.Health;

public sealed class CachedHealthCheckTests
{
    private static readonly TimeSpan Ttl = TimeSpan.FromMilliseconds(500);
    private readonly FakeTimeProvider _time = new();

    [Fact]
    public async Task CheckAsync_WithinTtl_ServesTheLastResultWithoutRunningTheCheck()
    {
        var cache = new CachedHealthCheck(() => Ttl, TimeSpan.FromSeconds(2), _time);
        var runs = 0;
        Task<HealthCheckResult> Check(CancellationToken _) => Task.FromResult(++runs == 1 ? HealthCheckResult.Healthy() : HealthCheckResult.Unhealthy("down"));

        var first = await cache.CheckAsync(Check, CancellationToken.None);
        _time.Advance(Ttl - TimeSpan.FromMilliseconds(1));
        var cached = await cache.CheckAsync(Check, CancellationToken.None);
        _time.Advance(TimeSpan.FromMilliseconds(1));
        var fresh = await cache.CheckAsync(Check, CancellationToken.None);

        Assert.Equal(HealthStatus.Healthy, first.Status);
        Assert.Equal(HealthStatus.Healthy, cached.Status);
        Assert.Equal(HealthStatus.Unhealthy, fresh.Status);
        Assert.Equal(2, runs);
    }

    [Fact]
    public async Task CheckAsync_WhileARunIsUnderWay_EveryCallerSharesIt()
    {
        var cache = new CachedHealthCheck(() => Ttl, TimeSpan.FromSeconds(2), _time);
        var answer = new TaskCompletionSource<HealthCheckResult>(TaskCreationOptions.RunContinuationsAsynchronously);
        var runs = 0;
        Task<HealthCheckResult> Check(CancellationToken _)
        {
            Interlocked.Increment(ref runs);
            return answer.Task;
        }

        var probes = Enumerable.Range(0, 10).Select(_ => cache.CheckAsync(Check, CancellationToken.None)).ToList();
        answer.SetResult(HealthCheckResult.Unhealthy("down"));
        var results = await Task.WhenAll(probes);

        Assert.Equal(1, runs);
        Assert.All(results, result => Assert.Equal(HealthStatus.Unhealthy, result.Status));
    }

    [Fact]
    public async Task CheckAsync_CheckHangs_IsUnhealthyAfterItsOwnTimeout()
    {
        var timeout = TimeSpan.FromSeconds(2);
        var cache = new CachedHealthCheck(() => Ttl, timeout, _time);

        var result = await HangPastTimeoutAsync(cache, timeout);

        Assert.Equal(HealthStatus.Unhealthy, result.Status);
        Assert.Contains("no answer within 2 s", result.Description, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CheckAsync_CheckOfACacheHangs_ReportsItsOwnFailureStatus()
    {
        // Redis is registered with failureStatus Degraded: a ping that never answers must not read as Unhealthy.
        var timeout = TimeSpan.FromSeconds(2);
        var cache = new CachedHealthCheck(() => Ttl, timeout, _time, HealthStatus.Degraded);

        var result = await HangPastTimeoutAsync(cache, timeout);

        Assert.Equal(HealthStatus.Degraded, result.Status);
    }

    /// <summary>Runs a check that never answers, advancing the clock until the cache's own timeout ends it.</summary>
    private async Task<HealthCheckResult> HangPastTimeoutAsync(CachedHealthCheck cache, TimeSpan timeout)
    {
        static async Task<HealthCheckResult> Hang(CancellationToken token)
        {
            await Task.Delay(Timeout.InfiniteTimeSpan, token);
            return HealthCheckResult.Healthy();
        }

        var probe = cache.CheckAsync(Hang, CancellationToken.None);
        while (!probe.IsCompleted)
        {
            // The run starts on the thread pool; advance once its timer exists, until it fires.
            _time.Advance(timeout);
            await Task.WhenAny(probe, Task.Delay(10));
        }

        return await probe;
    }

    [Fact]
    public async Task CheckAsync_CallerGivesUp_TheRunGoesOnForTheNext()
    {
        var cache = new CachedHealthCheck(() => Ttl, TimeSpan.FromSeconds(2), _time);
        var answer = new TaskCompletionSource<HealthCheckResult>(TaskCreationOptions.RunContinuationsAsynchronously);
        var runs = 0;
        Task<HealthCheckResult> Check(CancellationToken _)
        {
            Interlocked.Increment(ref runs);
            return answer.Task;
        }

        using var impatient = new CancellationTokenSource();
        var first = cache.CheckAsync(Check, impatient.Token);
        await impatient.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => first);
        var second = cache.CheckAsync(Check, CancellationToken.None);
        answer.SetResult(HealthCheckResult.Healthy());

        Assert.Equal(HealthStatus.Healthy, (await second).Status);
        Assert.Equal(1, runs);
    }

    [Fact]
    public async Task CheckAsync_ZeroTtl_RunsTheCheckEveryTime()
    {
        var cache = new CachedHealthCheck(() => TimeSpan.Zero, TimeSpan.FromSeconds(2), _time);
        var runs = 0;
        Task<HealthCheckResult> Check(CancellationToken _) => Task.FromResult(HealthCheckResult.Healthy($"{++runs}"));

        await cache.CheckAsync(Check, CancellationToken.None);
        await cache.CheckAsync(Check, CancellationToken.None);

        Assert.Equal(2, runs);
    }
}
