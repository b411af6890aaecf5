using System.Diagnostics.Metrics;
using Firedrill.ServiceDefaults.Options;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;
using Microsoft.Extensions.Options;
using OpenTelemetry;
using OpenTelemetry.Context.Propagation;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Firedrill.ServiceDefaults.Telemetry;

internal static class TelemetryExtensions
{
    private const string TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ";

    /// <summary>
    /// JSON console logs carrying TraceId/SpanId, OpenTelemetry metrics on <c>/metrics</c>
    /// (Prometheus), traces with W3C propagation on every outbound request, the trace id returned
    /// on every response, and OTLP export when <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set.
    /// </summary>
    public static void AddFiredrillTelemetry(this IHostApplicationBuilder builder, ServiceIdentity service)
    {
        builder.Services.AddRuntimeOptions<TelemetryOptions, TelemetryOptionsValidator>(TelemetryOptions.SectionName);
        builder.Services.AddSingleton<TraceContextMetrics>();
        builder.Services.AddSingleton<SwitchablePropagator>();
        AddLogging(builder);

        // Every IHttpClientFactory client propagates through the switchable propagator, so the lab
        // can drop trace context on the way out (dropped-context) and put it back, at run time.
        // OpenTelemetry's HttpClient instrumentation injects again, behind the handler's back, unless
        // its own propagator is plain W3C trace context: then it leaves propagation to the handler.
        Sdk.SetDefaultTextMapPropagator(new TraceContextPropagator());
        builder.Services.ConfigureHttpClientDefaults(http => http.UseSocketsHttpHandler((handler, services) =>
            handler.ActivityHeadersPropagator = services.GetRequiredService<SwitchablePropagator>()));

        var otel = builder.Services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService(service.Name, serviceInstanceId: service.InstanceId))
            .WithMetrics(metrics =>
            {
                metrics.AddAspNetCoreInstrumentation()
                    .AddHttpClientInstrumentation()
                    .AddRuntimeInstrumentation()
                    .AddMeter([TraceContextMetrics.MeterName, .. service.Meters])
                    .AddPrometheusExporter(options => options.ScrapeResponseCacheDurationMilliseconds = 0);
                ((IDeferredMeterProviderBuilder)metrics).Configure((services, provider) => provider.AddView(OnlyThisHostsMeters(services)));
            })
            .WithTracing(tracing =>
            {
                tracing.AddAspNetCoreInstrumentation(options =>
                        options.Filter = context => !context.Request.Path.StartsWithSegments("/metrics")
                            && !context.Request.Path.StartsWithSegments("/health"))
                    .AddHttpClientInstrumentation()
                    .AddSource(service.ActivitySources.ToArray());
                if (builder.Configuration[$"{TelemetryOptions.SectionName}:{nameof(TelemetryOptions.SpansFile)}"] is { Length: > 0 } spans)
                {
                    tracing.AddProcessor(services => new BatchActivityExportProcessor(
                        new SpanFileExporter(spans, services.GetRequiredService<ServiceIdentity>().InstanceId), scheduledDelayMilliseconds: 500));
                }
            });

        if (!string.IsNullOrWhiteSpace(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]))
        {
            otel.UseOtlpExporter();
        }
    }

    /// <summary>
    /// Meters are process-wide and OpenTelemetry subscribes to them by name, so a second host in the
    /// process (tests run several) would mix its instruments into this host's <c>/metrics</c>, and on
    /// its stop end the metric streams they share, this host's included. A meter made by another
    /// host's <see cref="IMeterFactory"/> is dropped; process-wide meters (no factory: Npgsql's, the
    /// runtime's) are kept. With one host per process, as in production, nothing is dropped.
    /// </summary>
    private static Func<Instrument, MetricStreamConfiguration?> OnlyThisHostsMeters(IServiceProvider services)
    {
        var own = services.GetRequiredService<IMeterFactory>();
        return instrument => instrument.Meter.Scope is { } scope && !ReferenceEquals(scope, own) ? MetricStreamConfiguration.Drop : null;
    }

    /// <summary>Returns the trace id on every response (<c>traceresponse</c>) and counts whether requests joined a caller's trace.</summary>
    public static WebApplication UseTraceResponse(this WebApplication app)
    {
        app.UseMiddleware<TraceResponseMiddleware>();
        return app;
    }

    /// <summary>
    /// The console's formatter follows <see cref="TelemetryOptions.LogFormat"/> at run time: the
    /// console logger rebuilds its formatter whenever its options are reloaded, which every
    /// configuration change (the lab's included) does.
    /// </summary>
    private static void AddLogging(IHostApplicationBuilder builder)
    {
        builder.Logging.ClearProviders();
        builder.Logging.AddConsole();
        builder.Services.Configure<JsonConsoleFormatterOptions>(options =>
        {
            options.IncludeScopes = true;
            options.TimestampFormat = TimestampFormat;
            options.UseUtcTimestamp = true;
        });
        builder.Services.Configure<SimpleConsoleFormatterOptions>(options =>
        {
            options.SingleLine = true;
            options.IncludeScopes = false;
            options.TimestampFormat = TimestampFormat + " ";
            options.UseUtcTimestamp = true;
            options.ColorBehavior = LoggerColorBehavior.Disabled;
        });
        // Read from the configuration itself: this runs inside a reload, before the TelemetryOptions
        // monitor has refreshed, and must not throw on a value the lab's validation is about to refuse.
        builder.Services.AddSingleton<IConfigureOptions<ConsoleLoggerOptions>>(services => new ConfigureOptions<ConsoleLoggerOptions>(options =>
            options.FormatterName = string.Equals(services.GetRequiredService<IConfiguration>()[$"{TelemetryOptions.SectionName}:{nameof(TelemetryOptions.LogFormat)}"],
                nameof(LogFormat.Text), StringComparison.OrdinalIgnoreCase)
                ? ConsoleFormatterNames.Simple
                : ConsoleFormatterNames.Json));
        builder.Services.AddSingleton<ILoggerProvider, LogCorrelationCounter>();
        builder.Logging.Configure(options =>
            options.ActivityTrackingOptions = ActivityTrackingOptions.TraceId | ActivityTrackingOptions.SpanId);
    }
}

/// <summary>Who a service is, for telemetry: its name, this process's instance id, and its own meters and sources.</summary>
public sealed record ServiceIdentity(string Name, string InstanceId)
{
    public IReadOnlyList<string> Meters { get; init; } = [];

    public IReadOnlyList<string> ActivitySources { get; init; } = [];
}
