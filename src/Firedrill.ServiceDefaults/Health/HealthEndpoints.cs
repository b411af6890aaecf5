using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Firedrill.ServiceDefaults.Health;

public static class HealthEndpoints
{
    /// <summary>Checks tagged with it run for <c>/health/ready</c>; liveness runs none.</summary>
    public const string ReadyTag = "ready";

    /// <summary>
    /// <c>/health/live</c> answers for the process alone, so a dependency outage never makes an
    /// orchestrator restart healthy processes; <c>/health/ready</c> runs the dependency checks a
    /// request needs, each bounded by its own timeout.
    /// </summary>
    public static IEndpointRouteBuilder MapHealthEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapHealthChecks("/health/live", new HealthCheckOptions { Predicate = _ => false })
            .ExcludeFromDescription();
        app.MapHealthChecks("/health/ready", new HealthCheckOptions
        {
            Predicate = check => check.Tags.Contains(ReadyTag),
            ResponseWriter = HealthResponseWriter.WriteAsync,
        }).ExcludeFromDescription();
        return app;
    }
}
