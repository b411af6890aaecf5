using System.Globalization;
using System.Net;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;

namespace Firedrill.Gateway.Limits;

/// <summary>
/// A token bucket per client IP address: <see cref="GatewayOptions.PermitsPerSecond"/> sustained,
/// <see cref="GatewayOptions.Burst"/> at once; over it, 429 with <c>Retry-After</c>.
/// </summary>
internal sealed class ClientRateLimitPolicy(IOptionsMonitor<GatewayOptions> options, ILogger<ClientRateLimitPolicy> logger)
    : IRateLimiterPolicy<ClientRateLimitPolicy.Partition>
{
    public const string Name = "per-client";

    public Func<OnRejectedContext, CancellationToken, ValueTask>? OnRejected => RejectAsync;

    public RateLimitPartition<Partition> GetPartition(HttpContext httpContext)
    {
        var limits = options.CurrentValue;

        // The settings are part of the key, so after the lab changes them every client starts a
        // bucket of the new shape; the old buckets go idle and the rate limiter disposes them.
        var key = new Partition(httpContext.Connection.RemoteIpAddress, limits.PermitsPerSecond, limits.Burst);
        return RateLimitPartition.GetTokenBucketLimiter(key, static partition => new TokenBucketRateLimiterOptions
        {
            TokenLimit = partition.Burst,
            TokensPerPeriod = partition.PermitsPerSecond,
            ReplenishmentPeriod = TimeSpan.FromSeconds(1),
            QueueLimit = 0,
            AutoReplenishment = true,
        });
    }

    private async ValueTask RejectAsync(OnRejectedContext rejected, CancellationToken cancellationToken)
    {
        var context = rejected.HttpContext;
        var wait = rejected.Lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter) ? retryAfter : TimeSpan.FromSeconds(1);
        var seconds = Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds));
        context.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);

        var limits = options.CurrentValue;
        GatewayLog.RateLimited(logger, context.Connection.RemoteIpAddress?.ToString() ?? "unknown", limits.PermitsPerSecond, limits.Burst);
        await GatewayProblems.WriteAsync(context, StatusCodes.Status429TooManyRequests, "Too many requests",
            $"This client may send {limits.PermitsPerSecond} requests per second (bursts of {limits.Burst}); retry after {seconds} s.");
    }

    /// <summary>One bucket per client address and bucket shape; a null address is the in-memory test server.</summary>
    internal readonly record struct Partition(IPAddress? Client, int PermitsPerSecond, int Burst);
}
