using Confluent.Kafka;
using Microsoft.Extensions.Options;

namespace Firedrill.Shop.Features.Messaging;

/// <summary>
/// Where Kafka is. With <c>Kafka:BootstrapServers</c> set, a real cluster; otherwise this
/// process starts librdkafka's mock cluster (<c>test.mock.num.brokers</c>), which other
/// processes reach over TCP at <see cref="BootstrapServers"/>. The mock lives as long as the
/// client hosting it, so this object owns that client until the process stops.
/// </summary>
internal sealed partial class KafkaCluster(IOptionsMonitor<KafkaOptions> options, ILogger<KafkaCluster> logger) : IDisposable
{
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

    public void Dispose() => _mockHost?.Dispose();

    [LoggerMessage(EventId = 5001, Level = LogLevel.Information, Message = "Kafka mock cluster started at {BootstrapServers}")]
    private partial void LogMockStarted(string bootstrapServers);
}
