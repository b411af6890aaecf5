using Firedrill.Gateway.Routing;
using Firedrill.ServiceDefaults.Health;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Yarp.ReverseProxy;
using Yarp.ReverseProxy.Model;

namespace Firedrill.Gateway.Health;

/// <summary>
/// The gateway is ready while at least one shop replica is in rotation: no destination marked
/// unhealthy by YARP's active or passive checks. Unknown (not yet probed) counts as usable, as
/// it does for YARP's load balancing.
/// </summary>
internal sealed class DestinationsHealthCheck(IProxyStateLookup proxyState) : IHealthCheck
{
    public const string Name = "destinations";

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (!proxyState.TryGetCluster(GatewayRoutingExtensions.ShopClusterId, out var cluster))
        {
            return Task.FromResult(HealthCheckResult.Unhealthy($"Cluster '{GatewayRoutingExtensions.ShopClusterId}' is not configured."));
        }

        var all = cluster.DestinationsState.AllDestinations;
        var usable = all.Count(destination =>
            destination.Health.Active != DestinationHealth.Unhealthy && destination.Health.Passive != DestinationHealth.Unhealthy);
        var description = $"{usable} of {all.Count} destinations of cluster '{cluster.ClusterId}' in rotation.";
        return Task.FromResult(usable > 0 ? HealthCheckResult.Healthy(description) : HealthCheckResult.Unhealthy(description));
    }
}

public static class GatewayHealthExtensions
{
    public static IServiceCollection AddGatewayHealth(this IServiceCollection services)
    {
        services.AddHealthChecks().AddCheck<DestinationsHealthCheck>(DestinationsHealthCheck.Name, tags: [HealthEndpoints.ReadyTag]);
        services.AddSingleton<DestinationsMetrics>();
        return services;
    }
}
