using System.Diagnostics.Metrics;
using Firedrill.Gateway.Routing;
using Yarp.ReverseProxy;
using Yarp.ReverseProxy.Model;

namespace Firedrill.Gateway.Health;

/// <summary>
/// The shop destinations by what the gateway's health checks believe (<c>firedrill_gateway_destinations{health}</c>):
/// in rotation (healthy or not yet probed) or out. Beside the replicas' own errors it shows whether
/// the gateway sees what users see.
/// </summary>
internal sealed class DestinationsMetrics
{
    public const string MeterName = "Firedrill.Gateway";

    public DestinationsMetrics(IMeterFactory meters, IProxyStateLookup proxyState)
    {
        meters.Create(MeterName).CreateObservableGauge("firedrill.gateway.destinations", () => Observe(proxyState), "{destination}",
            "Shop replicas by the gateway's view of their health: in rotation, or taken out by a failed health check.");
    }

    private static IEnumerable<Measurement<int>> Observe(IProxyStateLookup proxyState)
    {
        if (!proxyState.TryGetCluster(GatewayRoutingExtensions.ShopClusterId, out var cluster))
        {
            yield break;
        }

        var all = cluster.DestinationsState.AllDestinations;
        var usable = all.Count(destination =>
            destination.Health.Active != DestinationHealth.Unhealthy && destination.Health.Passive != DestinationHealth.Unhealthy);
        yield return new Measurement<int>(usable, new KeyValuePair<string, object?>("health", "in_rotation"));
        yield return new Measurement<int>(all.Count - usable, new KeyValuePair<string, object?>("health", "out_of_rotation"));
    }
}
