using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace Firedrill.ServiceDefaults.Health;

/// <summary>
/// Puts every readiness check (tagged <see cref="HealthEndpoints.ReadyTag"/>, whoever registered it)
/// behind its own <see cref="CachedHealthCheck"/>, bounded by the check's registered timeout.
/// </summary>
internal sealed class ReadinessCaching(IOptionsMonitor<HealthOptions> options, TimeProvider time) : IPostConfigureOptions<HealthCheckServiceOptions>
{
    /// <summary>For a check registered without a timeout.</summary>
    private static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(5);

    public void PostConfigure(string? name, HealthCheckServiceOptions healthChecks)
    {
        foreach (var registration in healthChecks.Registrations.Where(registration => registration.Tags.Contains(HealthEndpoints.ReadyTag)))
        {
            var timeout = registration.Timeout > TimeSpan.Zero && registration.Timeout != Timeout.InfiniteTimeSpan ? registration.Timeout : DefaultTimeout;
            var cache = new CachedHealthCheck(() => options.CurrentValue.ReadinessCacheTtl, timeout, time, registration.FailureStatus);
            var create = registration.Factory;
            registration.Factory = services => new Cached(cache, create(services));
        }
    }

    private sealed class Cached(CachedHealthCheck cache, IHealthCheck check) : IHealthCheck
    {
        public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
            cache.CheckAsync(token => check.CheckHealthAsync(context, token), cancellationToken);
    }
}
