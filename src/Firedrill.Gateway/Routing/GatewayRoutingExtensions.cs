using Firedrill.Gateway.Limits;
using Firedrill.ServiceDefaults.Control;
using Firedrill.ServiceDefaults.Options;
using Yarp.ReverseProxy.Forwarder;
using Yarp.ReverseProxy.Transforms;
using Yarp.ReverseProxy.Transforms.Builder;

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
        builder.Services.AddSingleton<IConfigurationCheck, ProxyConfigCheck>();
        builder.Services.AddReverseProxy()
            .LoadFromConfig(builder.Configuration.GetSection(ProxyDestinationsOptions.SectionName))
            // In code rather than configuration, so no override can turn it off: the lab's token
            // never leaves the gateway. YARP's default X-Forwarded-* transforms stay on.
            .AddTransforms(transforms =>
            {
                transforms.AddRequestHeaderRemove(LabControlEndpoints.TokenHeader);
                ForwardRemovedPrefix(transforms);
            });
        builder.Services.AddSingleton<IForwarderHttpClientFactory, PropagatingForwarderHttpClientFactory>();
        return builder;
    }

    /// <summary>
    /// A route that strips a prefix (<c>/api</c>) tells the replica what it stripped, in
    /// <c>X-Forwarded-Prefix</c>, so the links and <c>Location</c> headers the replica writes carry
    /// it back (ASP.NET Core's forwarded-headers middleware makes it the request's PathBase).
    /// YARP's own X-Forwarded-Prefix would be the gateway's PathBase, which is empty here.
    /// </summary>
    private static void ForwardRemovedPrefix(TransformBuilderContext transforms)
    {
        var removed = transforms.Route.Transforms?
            .Select(transform => transform.TryGetValue("PathRemovePrefix", out var prefix) ? prefix : null)
            .FirstOrDefault(prefix => !string.IsNullOrEmpty(prefix));
        if (removed is not null)
        {
            // Any X-Forwarded transform of our own replaces YARP's default set, so the other three
            // are added back as YARP would (Set: the gateway's view, never the client's claim).
            transforms.AddXForwardedFor(action: ForwardedTransformActions.Set);
            transforms.AddXForwardedProto(action: ForwardedTransformActions.Set);
            transforms.AddXForwardedHost(action: ForwardedTransformActions.Set);
            transforms.AddXForwardedPrefix(ForwardedPrefixHeader, ForwardedTransformActions.Off);
            transforms.AddRequestHeader(ForwardedPrefixHeader, removed, append: false);
        }
    }

    private const string ForwardedPrefixHeader = "X-Forwarded-Prefix";

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
