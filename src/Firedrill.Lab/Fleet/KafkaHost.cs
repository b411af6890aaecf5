using Confluent.Kafka;

namespace Firedrill.Lab.Fleet;

/// <summary>
/// librdkafka's mock cluster, hosted by the lab for the whole fleet (DESIGN.md): it lives as
/// long as this client, and every replica reaches it over TCP at <see cref="BootstrapServers"/>.
/// </summary>
public sealed class KafkaHost : IDisposable
{
    private readonly IProducer<Null, Null> _host;

    private KafkaHost(IProducer<Null, Null> host, string bootstrapServers) => (_host, BootstrapServers) = (host, bootstrapServers);

    public string BootstrapServers { get; }

    public static KafkaHost StartMock(int brokers = 3)
    {
        var config = new ProducerConfig();
        config.Set("test.mock.num.brokers", brokers.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var host = new ProducerBuilder<Null, Null>(config).SetLogHandler((_, _) => { }).Build();
        using var admin = new DependentAdminClientBuilder(host.Handle).Build();
        var metadata = admin.GetMetadata(TimeSpan.FromSeconds(10));
        return new KafkaHost(host, string.Join(',', metadata.Brokers.Select(broker => $"{broker.Host}:{broker.Port}")));
    }

    public void Dispose() => _host.Dispose();
}
