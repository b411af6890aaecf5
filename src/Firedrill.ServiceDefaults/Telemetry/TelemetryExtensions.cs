using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Firedrill.ServiceDefaults.Telemetry;

internal static class TelemetryExtensions
{
    /// <summary>
    /// JSON console logs carrying TraceId/SpanId, OpenTelemetry metrics on <c>/metrics</c>
    /// (Prometheus), traces with W3C propagation, and OTLP export when
    /// <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set.
    /// </summary>
    public static void AddFiredrillTelemetry(this IHostApplicationBuilder builder, ServiceIdentity service)
    {
        builder.Logging.ClearProviders();
        builder.Logging.AddJsonConsole(options =>
        {
            options.IncludeScopes = true;
            options.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ";
            options.UseUtcTimestamp = true;
        });
        builder.Logging.Configure(options =>
            options.ActivityTrackingOptions = ActivityTrackingOptions.TraceId | ActivityTrackingOptions.SpanId);

        var otel = builder.Services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService(service.Name, serviceInstanceId: service.InstanceId))
            .WithMetrics(metrics =>
            {
                metrics.AddAspNetCoreInstrumentation()
                    .AddHttpClientInstrumentation()
                    .AddRuntimeInstrumentation()
                    .AddMeter(service.Meters.ToArray())
                    .AddPrometheusExporter(options => options.ScrapeResponseCacheDurationMilliseconds = 0);
            })
            .WithTracing(tracing =>
            {
                tracing.AddAspNetCoreInstrumentation(options =>
                        options.Filter = context => !context.Request.Path.StartsWithSegments("/metrics")
                            && !context.Request.Path.StartsWithSegments("/health"))
                    .AddHttpClientInstrumentation()
                    .AddSource(service.ActivitySources.ToArray());
            });

        if (!string.IsNullOrWhiteSpace(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]))
        {
            otel.UseOtlpExporter();
        }
    }
}

/// <summary>Who a service is, for telemetry: its name, this process's instance id, and its own meters and sources.</summary>
public sealed record ServiceIdentity(string Name, string InstanceId)
{
    public IReadOnlyList<string> Meters { get; init; } = [];

    public IReadOnlyList<string> ActivitySources { get; init; } = [];
}
