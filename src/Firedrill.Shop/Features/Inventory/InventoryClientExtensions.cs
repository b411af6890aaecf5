using Firedrill.ServiceDefaults.Options;
using Microsoft.Extensions.Http.Resilience;
using Microsoft.Extensions.Options;
using OpenTelemetry.Metrics;
using Polly;
using Polly.Telemetry;

namespace Firedrill.Shop.Features.Inventory;

internal static class InventoryClientExtensions
{
    public const string PipelineName = "inventory";
    public const string ReadsClient = "inventory-reads";
    public const string ReservationsClient = "inventory-reservations";

    /// <summary>
    /// The clients and their pipelines, outermost first: bulkhead → total timeout → retry (within
    /// a budget) → circuit breaker → attempt timeout. The attempt timeout sits inside the breaker
    /// so slow calls count as failures; the bulkhead sits outside the retries so they can't
    /// multiply the calls in flight. A pipeline is rebuilt whenever the lab changes the options.
    /// </summary>
    public static IHostApplicationBuilder AddInventoryClient(this IHostApplicationBuilder builder)
    {
        builder.Services.AddRuntimeOptions<InventoryClientOptions, InventoryClientOptionsValidator>(InventoryClientOptions.SectionName);

        // Polly's per-call duration histograms repeat http.client.request.duration at a cost on every
        // call (bench/: the resilience benchmark); its events (retries, timeouts, rejections, breaker
        // transitions) are the signals an incident needs, and they stay.
        builder.Services.ConfigureOpenTelemetryMeterProvider(metrics => metrics
            .AddView("resilience.polly.pipeline.duration", MetricStreamConfiguration.Drop)
            .AddView("resilience.polly.strategy.attempt.duration", MetricStreamConfiguration.Drop));
        // One line per failed call is the client's own (InventoryClient logs the reason); Polly's
        // per-attempt lines, each with the exception's stack, go to Debug. Breaker transitions and
        // timeouts keep Polly's own levels.
        builder.Services.Configure<TelemetryOptions>(telemetry => telemetry.SeverityProvider = arguments =>
            arguments.Event.EventName is "ExecutionAttempt" or "OnRetry" ? ResilienceEventSeverity.Debug : arguments.Event.Severity);
        builder.Services.AddSingleton<BreakerState>();
        builder.Services.AddSingleton<SalesTrendEstimate>();

        // The typed client is the shared pool; stock reads and reservations each have a pool and a
        // pipeline of their own (InventoryClientOptions.SharedConnectionPool chooses, per call).
        Pool(builder.Services.AddHttpClient<InventoryClient>(Configure), PipelineName);
        Pool(builder.Services.AddHttpClient(ReadsClient, Configure), ReadsClient);
        Pool(builder.Services.AddHttpClient(ReservationsClient, Configure), ReservationsClient);
        return builder;
    }

    private static void Configure(IServiceProvider services, HttpClient http)
    {
        http.BaseAddress = services.GetRequiredService<IOptionsMonitor<InventoryClientOptions>>().CurrentValue.BaseAddress;
        // The pipeline owns every timeout; HttpClient's own 100 s default would hide "no timeout".
        http.Timeout = Timeout.InfiniteTimeSpan;
    }

    /// <summary>One pool: its connections (fixed when the handler is built) and its pipeline.</summary>
    private static void Pool(IHttpClientBuilder client, string name)
    {
        client.UseSocketsHttpHandler((handler, services) =>
        {
            var connections = services.GetRequiredService<IOptionsMonitor<InventoryClientOptions>>().CurrentValue.MaxConnections;
            handler.MaxConnectionsPerServer = connections > 0 ? connections : int.MaxValue;
        });
        client.AddResilienceHandler(name, (pipeline, context) => Build(pipeline, context, name));
    }

    private static void Build(ResiliencePipelineBuilder<HttpResponseMessage> pipeline, ResilienceHandlerContext context, string name)
    {
        context.EnableReloads<InventoryClientOptions>();
        var options = context.GetOptions<InventoryClientOptions>();
        if (options.MaxConcurrentCalls > 0)
        {
            pipeline.AddConcurrencyLimiter(options.MaxConcurrentCalls, options.BulkheadQueueLimit);
        }

        if (options.TotalTimeout > TimeSpan.Zero)
        {
            pipeline.AddTimeout(options.TotalTimeout);
        }

        if (options.MaxRetries > 0)
        {
            var retry = new HttpRetryStrategyOptions
            {
                MaxRetryAttempts = options.MaxRetries,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = options.RetryJitter,
                Delay = options.RetryBaseDelay,
            };
            if (options.RetryBudgetRatio > 0)
            {
                // One budget per pool's pipeline (rebuilt with the options): retries stop multiplying
                // the load on an inventory that is slow or down. 0 is breaker-cascade's "retry-storm".
                var budget = new RetryBudget(options.RetryBudgetRatio, options.RetryBudgetReserve);
                retry.ShouldHandle = arguments => ValueTask.FromResult(
                    budget.AllowsRetry(arguments.AttemptNumber == 0, HttpClientResiliencePredicates.IsTransient(arguments.Outcome)));
            }

            pipeline.AddRetry(retry);
        }

        // The breaker-cascade incident's timeout-outside-breaker: the timeout around the breaker.
        var outside = options.AttemptTimeoutPlacement == TimeoutPlacement.OutsideBreaker;
        if (outside && options.AttemptTimeout > TimeSpan.Zero)
        {
            pipeline.AddTimeout(options.AttemptTimeout);
        }

        var state = context.ServiceProvider.GetRequiredService<BreakerState>().Track(name, options.CircuitBreakerEnabled);
        if (options.CircuitBreakerEnabled)
        {
            pipeline.AddCircuitBreaker(new HttpCircuitBreakerStrategyOptions
            {
                FailureRatio = options.BreakerFailureRatio,
                MinimumThroughput = options.BreakerMinimumThroughput,
                SamplingDuration = options.BreakerSamplingDuration,
                BreakDuration = options.BreakerBreakDuration,
                StateProvider = state,
            });
        }

        if (!outside && options.AttemptTimeout > TimeSpan.Zero)
        {
            pipeline.AddTimeout(options.AttemptTimeout);
        }
    }
}
