using Firedrill.ServiceDefaults.Control;
using Firedrill.ServiceDefaults.Errors;
using Firedrill.ServiceDefaults.Health;
using Firedrill.ServiceDefaults.Options;
using Firedrill.ServiceDefaults.Telemetry;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Firedrill.ServiceDefaults;

/// <summary>What every Firedrill service sets up the same way (as eShop's ServiceDefaults).</summary>
public static class ServiceDefaultsExtensions
{
    public static WebApplicationBuilder AddServiceDefaults(this WebApplicationBuilder builder, string serviceName, Func<ServiceIdentity, ServiceIdentity>? identity = null)
    {
        // Lab overrides are the last configuration source, so what the lab writes wins.
        var overrides = new LabOverrides();
        builder.Configuration.Sources.Add(overrides);
        builder.Services.AddSingleton(overrides);
        builder.Services.AddRuntimeOptions<LabOptions, LabOptionsValidator>(LabOptions.SectionName);
        builder.Services.AddSingleton<IValidateOptions<LabOptions>, LabOptionsTokenValidator>();

        var instanceId = builder.Configuration[$"{LabOptions.SectionName}:{nameof(LabOptions.InstanceId)}"]
            ?? $"{Environment.MachineName}-{Environment.ProcessId}";
        var service = new ServiceIdentity(serviceName, instanceId);
        service = identity?.Invoke(service) ?? service;
        // Resolved from the final configuration: hosts built in tests get their settings late.
        builder.Services.AddSingleton(services => service with
        {
            InstanceId = services.GetRequiredService<IConfiguration>()[$"{LabOptions.SectionName}:{nameof(LabOptions.InstanceId)}"] ?? instanceId,
        });
        builder.AddFiredrillTelemetry(service);
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddFiredrillProblemDetails();
        builder.Services.AddHealthChecks();
        builder.Services.AddRuntimeOptions<HealthOptions, HealthOptionsValidator>(HealthOptions.SectionName);
        builder.Services.AddSingleton<IPostConfigureOptions<Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckServiceOptions>, ReadinessCaching>();
        builder.Services.AddHostedService<ParentWatchdog>();
        return builder;
    }

    public static WebApplication MapServiceDefaults(this WebApplication app)
    {
        // Behind the gateway, X-Forwarded-Prefix (/api) becomes the request's PathBase, so links and
        // Location headers are right on both paths. Only from loopback proxies (the defaults), and
        // only the prefix: the caller's address stays the gateway's, which the lab's guard relies on.
        app.UseForwardedHeaders(new ForwardedHeadersOptions { ForwardedHeaders = ForwardedHeaders.XForwardedPrefix });
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.MapPrometheusScrapingEndpoint();
        app.MapHealthEndpoints();
        app.MapLabControl();
        return app;
    }
}
