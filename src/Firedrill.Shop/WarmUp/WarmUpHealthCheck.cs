using System.Runtime.CompilerServices;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace Firedrill.Shop.WarmUp;

/// <summary>Readiness waits for the warm-up: a replica takes traffic only once it is warm.</summary>
internal sealed class WarmUpHealthCheck(WarmUpService warmUp, IOptionsMonitor<WarmUpOptions> options) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(options.CurrentValue.ReadyBeforeWarmUp ? ReadyBeforeWarmUp(warmUp) : Check(warmUp));

    private static HealthCheckResult Check(WarmUpService warmUp) => warmUp.State switch
    {
        WarmUpState.Done or WarmUpState.Off => HealthCheckResult.Healthy(warmUp.Summary),
        _ => HealthCheckResult.Unhealthy(warmUp.Summary),
    };

    /// <summary>
    /// Reproduces autoscaling-no-relief (cold-replicas): ready whatever the warm-up's state, so a
    /// new replica is put in rotation cold and its first users pay for its empty pools and caches.
    /// </summary>
    // Its own frame (never inlined), so a thread dump or a profile names the defect.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static HealthCheckResult ReadyBeforeWarmUp(WarmUpService warmUp) =>
        HealthCheckResult.Healthy($"ready without waiting for the warm-up ({warmUp.Summary})");
}
