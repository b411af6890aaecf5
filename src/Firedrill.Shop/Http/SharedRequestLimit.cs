using System.ComponentModel.DataAnnotations;
using System.Threading.RateLimiting;
using Firedrill.ServiceDefaults.Options;
using Microsoft.Extensions.Options;

namespace Firedrill.Shop.Http;

public sealed class HttpLimitsOptions
{
    public const string SectionName = "Http";

    /// <summary>
    /// One in-flight limit shared by every endpoint (0: none) — what a fixed thread pool or a
    /// connection cap does in many stacks. With a slow dependency and no bulkhead, calls to it
    /// fill the shared slots and endpoints that never call it queue behind them: the
    /// slow-downstream-cascade incident.
    /// </summary>
    [Range(0, 100_000)]
    public int MaxConcurrentRequests { get; set; }

    [Range(0, 1_000_000)]
    public int QueueLimit { get; set; } = 10_000;
}

[Microsoft.Extensions.Options.OptionsValidator]
internal sealed partial class HttpLimitsOptionsValidator : IValidateOptions<HttpLimitsOptions>;

internal static class SharedRequestLimit
{
    public static IHostApplicationBuilder AddSharedRequestLimit(this IHostApplicationBuilder builder)
    {
        builder.Services.AddRuntimeOptions<HttpLimitsOptions, HttpLimitsOptionsValidator>(HttpLimitsOptions.SectionName);
        builder.Services.AddRateLimiter(options =>
        {
            options.RejectionStatusCode = StatusCodes.Status503ServiceUnavailable;
            // The partition key is the limit itself, so a change through /_lab/config gets a new limiter.
            options.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, int>(context =>
            {
                var settings = context.RequestServices.GetRequiredService<IOptionsMonitor<HttpLimitsOptions>>().CurrentValue;
                return settings.MaxConcurrentRequests <= 0 || IsOperational(context.Request.Path)
                    ? RateLimitPartition.GetNoLimiter(0)
                    : RateLimitPartition.GetConcurrencyLimiter(settings.MaxConcurrentRequests, limit => new ConcurrencyLimiterOptions
                    {
                        PermitLimit = limit,
                        QueueLimit = settings.QueueLimit,
                        QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
                    });
            });
        });
        return builder;
    }

    /// <summary>Health, metrics and the lab's control stay reachable whatever the limit.</summary>
    private static bool IsOperational(PathString path) =>
        path.StartsWithSegments("/health") || path.StartsWithSegments("/metrics") || path.StartsWithSegments("/_lab");
}
