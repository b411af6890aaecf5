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

    /// <summary>
    /// The typed client and its pipeline, outermost first: bulkhead → total timeout → retry →
    /// circuit breaker → attempt timeout. The attempt timeout sits inside the breaker so slow
    /// calls count as failures; the bulkhead sits outside the retries so they can't multiply
    /// the calls in flight. The pipeline is rebuilt whenever the lab changes the options.
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
        builder.Services.AddHttpClient<InventoryClient>((services, http) =>
            {
                http.BaseAddress = services.GetRequiredService<IOptionsMonitor<InventoryClientOptions>>().CurrentValue.BaseAddress;
                // The pipeline owns every timeout; HttpClient's own 100 s default would hide "no timeout".
                http.Timeout = Timeout.InfiniteTimeSpan;
            })
            .AddResilienceHandler(PipelineName, static (pipeline, context) =>
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
                        // One budget per pipeline (rebuilt with the options): retries stop multiplying the
                        // load on an inventory that is slow or down (fault 9 of the fault suite).
                        var budget = new RetryBudget(options.RetryBudgetRatio, options.RetryBudgetReserve);
                        retry.ShouldHandle = arguments => ValueTask.FromResult(
                            budget.AllowsRetry(arguments.AttemptNumber == 0, HttpClientResiliencePredicates.IsTransient(arguments.Outcome)));
                    }

                    pipeline.AddRetry(retry);
                }

                if (options.CircuitBreakerEnabled)
                {
                    pipeline.AddCircuitBreaker(new HttpCircuitBreakerStrategyOptions
                    {
                        FailureRatio = options.BreakerFailureRatio,
                        MinimumThroughput = options.BreakerMinimumThroughput,
                        SamplingDuration = options.BreakerSamplingDuration,
                        BreakDuration = options.BreakerBreakDuration,
                    });
                }

                if (options.AttemptTimeout > TimeSpan.Zero)
                {
                    pipeline.AddTimeout(options.AttemptTimeout);
                }
            });
        return builder;
    }
}
