using Confluent.Kafka;

namespace Firedrill.Shop.Tests.Support;

/// <summary>
/// One librdkafka mock cluster for the whole test run, reached over TCP like a real one. Test
/// classes keep apart by topic and consumer group (named after their database).
/// </summary>
public static class KafkaMock
{
    private static readonly Lazy<(IProducer<Null, Null> Host, string Bootstrap)> Cluster = new(Start);

    public static string BootstrapServers => Cluster.Value.Bootstrap;

    private static (IProducer<Null, Null>, string) Start()
    {
        var config = new ProducerConfig();
        config.Set("test.mock.num.brokers", "3");
        var host = new ProducerBuilder<Null, Null>(config).SetLogHandler((_, _) => { }).Build();
        using var admin = new DependentAdminClientBuilder(host.Handle).Build();
        var brokers = admin.GetMetadata(TimeSpan.FromSeconds(10)).Brokers;
        return (host, string.Join(',', brokers.Select(broker => $"{broker.Host}:{broker.Port}")));
    }
}
