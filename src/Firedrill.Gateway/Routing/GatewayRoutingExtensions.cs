using Firedrill.Gateway.Limits;
using Firedrill.ServiceDefaults.Control;
using Firedrill.ServiceDefaults.Options;
using Yarp.ReverseProxy.Transforms;

namespace Firedrill.Gateway.Routing;

public static class GatewayRoutingExtensions
{
    /// <summary>The cluster of shop replicas; the readiness check watches it.</summary>
    public const string ShopClusterId = "shop";

    /// <summary>
    /// Routes and clusters come from the <c>ReverseProxy</c> configuration section, which YARP
    /// reloads whenever configuration does, so the lab scales replicas by writing destinations
    /// through <c>/_lab/config</c>.
    /// </summary>
    public static WebApplicationBuilder AddGatewayRouting(this WebApplicationBuilder builder)
    {
        builder.Services.AddRuntimeOptions<ProxyDestinationsOptions, ProxyDestinationsValidator>(ProxyDestinationsOptions.SectionName);
        builder.Services.AddReverseProxy()
            .LoadFromConfig(builder.Configuration.GetSection(ProxyDestinationsOptions.SectionName))
            // In code rather than configuration, so no override can turn it off: the lab's token
            // never leaves the gateway. YARP's default X-Forwarded-* transforms stay on.
            .AddTransforms(transforms => transforms.AddRequestHeaderRemove(LabControlEndpoints.TokenHeader));
        return builder;
    }

    /// <summary>
    /// YARP's standard pipeline (affinity, load balancing, passive health) behind the gateway's
    /// own steps; the rate limit and request timeout apply to every proxied route.
    /// </summary>
    public static WebApplication MapGatewayRouting(this WebApplication app)
    {
        app.MapReverseProxy(proxy =>
            {
                proxy.UseMiddleware<LabPathGuardMiddleware>();
                proxy.UseMiddleware<RequestSizeLimitsMiddleware>();
                proxy.UseMiddleware<ProxyErrorsMiddleware>();
                proxy.UseSessionAffinity();
                proxy.UseLoadBalancing();
                proxy.UsePassiveHealthChecks();
            })
            .RequireRateLimiting(ClientRateLimitPolicy.Name)
            .WithRequestTimeout(ProxyTimeoutPolicy.Name);
        return app;
    }
}
