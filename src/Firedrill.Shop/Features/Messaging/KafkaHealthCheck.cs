using Confluent.Kafka;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Firedrill.Shop.Features.Messaging;

/// <summary>
/// Ready only if the cluster answers a metadata request with at least one broker. One admin
/// client serves every check (the gateway probes readiness every second): building a librdkafka
/// client starts its threads and connects to every broker, far too much work per probe.
/// </summary>
internal sealed class KafkaHealthCheck(KafkaCluster cluster) : IHealthCheck, IDisposable
{
    private readonly Lock _gate = new();
    private (string Bootstrap, IAdminClient Admin)? _client;
    private Task _warmUp = Task.CompletedTask;

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        // librdkafka's metadata call blocks; keep it off the request's thread.
        return await Task.Run(() =>
        {
            var metadata = Admin().GetMetadata(TimeSpan.FromSeconds(2));
            return metadata.Brokers.Count > 0
                ? HealthCheckResult.Healthy($"{metadata.Brokers.Count} brokers")
                : HealthCheckResult.Unhealthy("no brokers");
        }, cancellationToken);
    }

    /// <summary>
    /// Connects the admin client and fetches metadata in the background, so a starting replica's
    /// first readiness probe does not pay for librdkafka's connections (about 55 ms, bench/: footprint).
    /// A failure here is the probe's to report.
    /// </summary>
    public void WarmUp() => _warmUp = Task.Run(() =>
    {
        try
        {
            Admin().GetMetadata(TimeSpan.FromSeconds(2));
        }
        catch (KafkaException)
        {
        }
    });

    /// <summary>The admin client for the current bootstrap servers; a new one when the lab points the shop elsewhere.</summary>
    private IAdminClient Admin()
    {
        var bootstrap = cluster.BootstrapServers;
        lock (_gate)
        {
            if (_client is { } current && current.Bootstrap == bootstrap)
            {
                return current.Admin;
            }

            _client?.Admin.Dispose();
            var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = bootstrap }).SetLogHandler((_, _) => { }).Build();
            _client = (bootstrap, admin);
            return admin;
        }
    }

    public void Dispose()
    {
        // A host stopped right after it started must not free the client under the warm-up's
        // metadata call (bounded by its own 2 s timeout); WaitAny does not rethrow a fault.
        Task.WaitAny([_warmUp], TimeSpan.FromSeconds(3));
        lock (_gate)
        {
            _client?.Admin.Dispose();
            _client = null;
        }
    }
}
