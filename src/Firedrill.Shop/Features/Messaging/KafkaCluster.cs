using Confluent.Kafka;
using Microsoft.Extensions.Options;

namespace Firedrill.Shop.Features.Messaging;

/// <summary>
/// Where Kafka is. With <c>Kafka:BootstrapServers</c> set, a real cluster; otherwise this
/// process starts librdkafka's mock cluster (<c>test.mock.num.brokers</c>), which other
/// processes reach over TCP at <see cref="BootstrapServers"/>. The mock lives as long as the
/// client hosting it, so this object owns that client until the process stops.
/// </summary>
internal sealed partial class KafkaCluster(IOptionsMonitor<KafkaOptions> options, TimeProvider time, ILogger<KafkaCluster> logger) : IDisposable
{
    private static readonly TimeSpan TopicWait = TimeSpan.FromSeconds(10);

    private readonly Lock _gate = new();
    private IProducer<Null, Null>? _mockHost;
    private string? _mockBootstrap;

    public string BootstrapServers
    {
        get
        {
            var configured = options.CurrentValue.BootstrapServers;
            return string.IsNullOrWhiteSpace(configured) ? MockBootstrap() : configured;
        }
    }

    private string MockBootstrap()
    {
        lock (_gate)
        {
            if (_mockBootstrap is not null)
            {
                return _mockBootstrap;
            }

            var config = new ProducerConfig();
            config.Set("test.mock.num.brokers", options.CurrentValue.MockBrokers.ToString(System.Globalization.CultureInfo.InvariantCulture));
            var host = new ProducerBuilder<Null, Null>(config).SetLogHandler((_, _) => { }).Build();
            using var admin = new DependentAdminClientBuilder(host.Handle).Build();
            var brokers = admin.GetMetadata(TimeSpan.FromSeconds(10)).Brokers;
            _mockHost = host;
            _mockBootstrap = string.Join(',', brokers.Select(broker => $"{broker.Host}:{broker.Port}"));
            LogMockStarted(_mockBootstrap);
            return _mockBootstrap;
        }
    }

    /// <summary>
    /// Makes sure <paramref name="topic"/> exists with partitions before a consumer subscribes to it:
    /// a subscription to a missing topic fails ("Subscribed topic not available"), while a metadata
    /// request for it from an admin client makes a broker that auto-creates topics (the mock, and
    /// most development clusters) create it. Waits, bounded, until the topic has partitions; on a
    /// cluster that does not auto-create, it returns after the wait and the subscription reports why.
    /// </summary>
    public async Task EnsureTopicAsync(string topic, CancellationToken cancellationToken)
    {
        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = BootstrapServers }).SetLogHandler((_, _) => { }).Build();
        var started = time.GetTimestamp();
        while (true)
        {
            try
            {
                // librdkafka's metadata call blocks; keep it off the caller's thread.
                var metadata = await Task.Run(() => admin.GetMetadata(topic, TimeSpan.FromSeconds(2)), cancellationToken);
                if (metadata.Topics.SingleOrDefault() is { Error.IsError: false, Partitions.Count: > 0 })
                {
                    return;
                }
            }
            catch (KafkaException ex)
            {
                LogTopicNotReady(topic, ex.Message);
            }

            if (time.GetElapsedTime(started) >= TopicWait)
            {
                LogTopicNotReady(topic, $"no partitions after {TopicWait.TotalSeconds:0} s");
                return;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(100), time, cancellationToken);
        }
    }

    public void Dispose() => _mockHost?.Dispose();

    [LoggerMessage(EventId = 5002, Level = LogLevel.Warning, Message = "Topic {Topic} is not ready: {Reason}")]
    private partial void LogTopicNotReady(string topic, string reason);

    [LoggerMessage(EventId = 5001, Level = LogLevel.Information, Message = "Kafka mock cluster started at {BootstrapServers}")]
    private partial void LogMockStarted(string bootstrapServers);
}
