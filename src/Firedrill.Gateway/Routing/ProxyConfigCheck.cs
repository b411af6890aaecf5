using Firedrill.ServiceDefaults.Control;
using Yarp.ReverseProxy.Configuration;

namespace Firedrill.Gateway.Routing;

/// <summary>
/// YARP's own verdict on a configuration before the lab applies it. YARP reads its section on every
/// reload, and when it cannot use the new one it logs the error and keeps serving the old one:
/// without this check, <c>/_lab/config</c> would answer 200 for a change the proxy refused. The
/// candidate section is loaded by a throwaway YARP (the same parser) and judged by its
/// <see cref="IConfigValidator"/> (the same rules), route by route and cluster by cluster.
/// </summary>
internal sealed class ProxyConfigCheck : IConfigurationCheck
{
    public async ValueTask<string?> CheckAsync(IConfiguration candidate, CancellationToken cancellationToken)
    {
        var services = new ServiceCollection().AddLogging();
        services.AddReverseProxy().LoadFromConfig(candidate.GetSection(ProxyDestinationsOptions.SectionName));
        await using var provider = services.BuildServiceProvider();
        IProxyConfig config;
        try
        {
            config = provider.GetRequiredService<IProxyConfigProvider>().GetConfig();
        }
        catch (Exception ex) when (ex is InvalidOperationException or FormatException or ArgumentException)
        {
            return $"The proxy cannot read {ProxyDestinationsOptions.SectionName}: {Unwrap(ex)}";
        }

        var validator = provider.GetRequiredService<IConfigValidator>();
        var errors = new List<string>();
        foreach (var route in config.Routes)
        {
            errors.AddRange((await validator.ValidateRouteAsync(route)).Select(error => $"route '{route.RouteId}': {error.Message}"));
        }

        foreach (var cluster in config.Clusters)
        {
            errors.AddRange((await validator.ValidateClusterAsync(cluster)).Select(error => $"cluster '{cluster.ClusterId}': {error.Message}"));
        }

        return errors.Count == 0 ? null : "The proxy refuses this configuration: " + string.Join("; ", errors);
    }

    private static string Unwrap(Exception ex) => ex.InnerException is { } inner ? $"{ex.Message} ({inner.Message})" : ex.Message;
}
