using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;
using Confluent.Kafka;
using Firedrill.Shop.Observability;
using Microsoft.Extensions.Options;

namespace Firedrill.Shop.Features.Messaging;

/// <summary>
/// The ledger's dead-letter topic: a message no retry could ever apply (unreadable, or refused by
/// the ledger's columns) is copied there as it was read, with headers saying why and where it came
/// from, before its batch's offsets are stored. The partition then keeps flowing, and nothing is
/// dropped unseen: if the copy cannot be delivered, the batch fails and is read again.
/// </summary>
internal sealed partial class DeadLetters(KafkaCluster cluster, IOptionsMonitor<KafkaOptions> options, IMeterFactory meters, ILogger<DeadLetters> logger)
    : IDisposable
{
    public const string ReasonHeader = "dead-letter-reason";
    public const string SourceHeader = "dead-letter-source";

    private readonly Counter<long> _sent = meters.Create(ShopMetrics.MeterName).CreateCounter<long>(
        "firedrill.ledger.dead_lettered", "{message}", "Messages the ledger consumer could never apply, copied to the dead-letter topic.");

    private readonly Lock _gate = new();
    private IProducer<string?, string?>? _producer;
    private string? _producerBootstrap;

    public async Task SendAsync(ConsumeResult<string, string> poison, string reason, CancellationToken cancellationToken)
    {
        var settings = options.CurrentValue;
        await cluster.EnsureTopicAsync(settings.DeadLetterTopic, cancellationToken);
        var headers = new Headers();
        foreach (var header in poison.Message.Headers ?? [])
        {
            headers.Add(header.Key, header.GetValueBytes());
        }

        var source = string.Create(CultureInfo.InvariantCulture, $"{poison.Topic}/{poison.Partition.Value}@{poison.Offset.Value}");
        headers.Add(ReasonHeader, Encoding.UTF8.GetBytes(reason));
        headers.Add(SourceHeader, Encoding.UTF8.GetBytes(source));
        // Awaited: the batch's offsets are stored only once the copy is acknowledged.
        await Producer(settings).ProduceAsync(settings.DeadLetterTopic,
            new Message<string?, string?> { Key = poison.Message.Key, Value = poison.Message.Value, Headers = headers }, cancellationToken);
        _sent.Add(1, new KeyValuePair<string, object?>("reason", ReasonKind(reason)));
        LogDeadLettered(source, settings.DeadLetterTopic, reason);
    }

    private static string ReasonKind(string reason) => reason.Split(':', 2)[0];

    private IProducer<string?, string?> Producer(KafkaOptions settings)
    {
        lock (_gate)
        {
            var bootstrap = cluster.BootstrapServers;
            if (_producer is not null && _producerBootstrap == bootstrap)
            {
                return _producer;
            }

            _producer?.Dispose();
            _producer = new ProducerBuilder<string?, string?>(new ProducerConfig
            {
                BootstrapServers = bootstrap,
                Acks = Acks.All,
                EnableIdempotence = true,
                MessageTimeoutMs = (int)settings.DeliveryTimeout.TotalMilliseconds,
            }).SetLogHandler((_, _) => { }).Build();
            _producerBootstrap = bootstrap;
            return _producer;
        }
    }

    public void Dispose() => _producer?.Dispose();

    [LoggerMessage(EventId = 5030, Level = LogLevel.Warning, Message = "Dead-lettered the message at {Source} to {Topic}: {Reason}")]
    private partial void LogDeadLettered(string source, string topic, string reason);
}
