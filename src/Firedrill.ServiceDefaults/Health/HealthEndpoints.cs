using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace Firedrill.ServiceDefaults.Health;

public static class HealthEndpoints
{
    /// <summary>Checks tagged with it run for <c>/health/ready</c>; liveness runs none.</summary>
    public const string ReadyTag = "ready";

    /// <summary>
    /// <c>/health/live</c> answers for the process alone, so a dependency outage never makes an
    /// orchestrator restart healthy processes; <c>/health/ready</c> runs the dependency checks a
    /// request needs, each bounded by its own timeout and cached briefly (<see cref="CachedHealthCheck"/>,
    /// <see cref="HealthOptions.ReadinessCacheTtl"/>).
    /// </summary>
    public static IEndpointRouteBuilder MapHealthEndpoints(this IEndpointRouteBuilder app)
    {
        var options = app.ServiceProvider.GetRequiredService<IOptionsMonitor<HealthOptions>>();
        app.MapHealthChecks("/health/live", new HealthCheckOptions
        {
            Predicate = check => options.CurrentValue.LivenessChecksDependencies && DeepLiveness(check),
            ResponseWriter = HealthResponseWriter.WriteAsync,
        }).ExcludeFromDescription();
        app.MapHealthChecks("/health/ready", new HealthCheckOptions
        {
            Predicate = check => check.Tags.Contains(ReadyTag),
            ResponseWriter = HealthResponseWriter.WriteAsync,
            // Degraded (it serves, but worse: a cache lost) is not ready: a load balancer prefers whole
            // instances, and routes to degraded ones only when none is whole (YARP's HealthyOrPanic).
            ResultStatusCodes =
            {
                [HealthStatus.Healthy] = StatusCodes.Status200OK,
                [HealthStatus.Degraded] = StatusCodes.Status503ServiceUnavailable,
                [HealthStatus.Unhealthy] = StatusCodes.Status503ServiceUnavailable,
            },
        }).ExcludeFromDescription();
        return app;
    }

    /// <summary>
    /// Reproduces the shallow-health-checks incident (variant deep-liveness, with
    /// <see cref="HealthOptions.LivenessChecksDependencies"/>): liveness runs the dependency checks, so
    /// a database blip fails every replica's liveness at once and the orchestrator restarts them all.
    /// </summary>
    private static bool DeepLiveness(HealthCheckRegistration check) => check.Tags.Contains(ReadyTag);
}
