using Firedrill.ServiceDefaults.Options;
using Microsoft.AspNetCore.Http.Timeouts;
using Microsoft.Extensions.Options;

namespace Firedrill.Gateway.Limits;

public static class GatewayLimitsExtensions
{
    public static WebApplicationBuilder AddGatewayLimits(this WebApplicationBuilder builder)
    {
        builder.Services.AddRuntimeOptions<GatewayOptions, GatewayOptionsValidator>(GatewayOptions.SectionName);
        builder.Services.AddSingleton<IValidateOptions<GatewayOptions>, GatewayRateLimitValidator>();

        // Kestrel reads its limits once, at start (and not from "Kestrel:Limits" in appsettings): a
        // client that trickles its headers (slowloris) holds a connection until this, not 30 s.
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Limits.MaxRequestHeadersTotalSize = GatewayOptions.HeadersCeilingBytes;
            kestrel.Limits.RequestHeadersTimeout = GatewayOptions.RequestHeadersTimeout;
        });

        builder.Services.AddRequestTimeouts();
        builder.Services.AddSingleton<IConfigureOptions<RequestTimeoutOptions>, ProxyTimeoutPolicy>();
        builder.Services.AddSingleton<IOptionsChangeTokenSource<RequestTimeoutOptions>>(services =>
            new ConfigurationChangeTokenSource<RequestTimeoutOptions>(services.GetRequiredService<IConfiguration>()));

        builder.Services.AddRateLimiter(options =>
        {
            options.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            options.AddPolicy<ClientRateLimitPolicy.Partition, ClientRateLimitPolicy>(ClientRateLimitPolicy.Name);
        });
        return builder;
    }

    /// <summary>After routing (implicit in minimal hosting): both act on the proxied routes' metadata.</summary>
    public static WebApplication UseGatewayLimits(this WebApplication app)
    {
        app.UseRequestTimeouts();
        app.UseRateLimiter();
        return app;
    }
}
