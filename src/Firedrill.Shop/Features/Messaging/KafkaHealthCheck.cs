using Confluent.Kafka;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Firedrill.Shop.Features.Messaging;

/// <summary>Ready only if the cluster answers a metadata request with at least one broker.</summary>
internal sealed class KafkaHealthCheck(KafkaCluster cluster) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        // librdkafka's metadata call blocks; keep it off the request's thread.
        return await Task.Run(() =>
        {
            using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = cluster.BootstrapServers })
                .SetLogHandler((_, _) => { }).Build();
            var metadata = admin.GetMetadata(TimeSpan.FromSeconds(2));
            return metadata.Brokers.Count > 0
                ? HealthCheckResult.Healthy($"{metadata.Brokers.Count} brokers")
                : HealthCheckResult.Unhealthy("no brokers");
        }, cancellationToken);
    }
}
