using System.Diagnostics.Metrics;
using Confluent.Kafka;
using Microsoft.Extensions.Options;

namespace Firedrill.Shop.Features.Messaging;

/// <summary>
/// Measures the ledger group's lag from outside the consumer: each partition's high watermark
/// against the group's committed offset. It is measured here rather than from the consumer's
/// own librdkafka statistics because those stop when the consumer stops, which is exactly
/// when lag matters. Lag in seconds is the age of the oldest unapplied message, estimated from
/// a history of (high watermark, time) samples, as kafka-lag-exporter does.
/// </summary>
internal sealed partial class ConsumerLagMonitor : BackgroundService
{
    private static readonly TimeSpan SampleInterval = TimeSpan.FromSeconds(1);
    private const int HistoryLength = 600;

    private readonly KafkaCluster _cluster;
    private readonly IOptionsMonitor<KafkaOptions> _options;
    private readonly TimeProvider _time;
    private readonly ILogger<ConsumerLagMonitor> _logger;
    private readonly Dictionary<int, Queue<(long HighWatermark, DateTimeOffset At)>> _history = [];
    private volatile IReadOnlyList<PartitionLag> _lag = [];
    private (string Bootstrap, IAdminClient Admin, IConsumer<Ignore, Ignore> Reader)? _clients;

    public ConsumerLagMonitor(KafkaCluster cluster, IOptionsMonitor<KafkaOptions> options, TimeProvider time, IMeterFactory meters, ILogger<ConsumerLagMonitor> logger)
    {
        (_cluster, _options, _time, _logger) = (cluster, options, time, logger);
        var meter = meters.Create(Observability.ShopMetrics.MeterName);
        meter.CreateObservableGauge("firedrill.kafka.consumer.lag", () => Measure(lag => lag.Messages), "{message}",
            "Messages produced to the payments topic and not yet committed by the ledger group, per partition.");
        meter.CreateObservableGauge("firedrill.kafka.consumer.lag.seconds", () => Measure(lag => lag.Seconds), "s",
            "Age of the oldest message the ledger group has not committed, per partition.");
    }

    /// <summary>The latest measurement, for the lab and the tests.</summary>
    public IReadOnlyList<PartitionLag> Current => _lag;

    private IEnumerable<Measurement<double>> Measure(Func<PartitionLag, double> value) =>
        _lag.Select(lag => new Measurement<double>(value(lag), new KeyValuePair<string, object?>("partition", lag.Partition)));

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await Task.Yield();
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                // A failed sample keeps the last measurement rather than reporting "no lag".
                _lag = Sample(_options.CurrentValue) ?? _lag;
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                LogSampleFailed(ex.Message);
                // A client in a bad state is rebuilt on the next sample.
                DisposeClients();
            }

            await Task.Delay(SampleInterval, _time, stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
        }
    }

    private List<PartitionLag>? Sample(KafkaOptions settings)
    {
        var (admin, reader) = Clients(settings);
        var topic = admin.GetMetadata(settings.PaymentsTopic, TimeSpan.FromSeconds(2)).Topics.SingleOrDefault();
        if (topic is null || topic.Error.IsError || topic.Partitions.Count == 0)
        {
            LogSampleFailed(topic?.Error.Reason ?? "topic not in metadata");
            return null;
        }

        var partitions = topic.Partitions.Select(p => new TopicPartition(settings.PaymentsTopic, p.PartitionId)).ToList();
        var committed = reader.Committed(partitions, TimeSpan.FromSeconds(2)).ToDictionary(c => c.Partition.Value, c => c.Offset.Value);
        var now = _time.GetUtcNow();
        var lags = new List<PartitionLag>(partitions.Count);
        foreach (var partition in partitions)
        {
            var watermarks = reader.QueryWatermarkOffsets(partition, TimeSpan.FromSeconds(2));
            var high = watermarks.High.Value;
            // No commit yet: the group starts at the earliest message, so all retained messages are behind.
            var position = committed.TryGetValue(partition.Partition.Value, out var offset) && offset >= 0 ? offset : watermarks.Low.Value;
            lags.Add(new PartitionLag(partition.Partition.Value, Math.Max(0, high - position), AgeOf(partition.Partition.Value, position, high, now)));
        }

        return lags;
    }

    private (IAdminClient Admin, IConsumer<Ignore, Ignore> Reader) Clients(KafkaOptions settings)
    {
        var bootstrap = _cluster.BootstrapServers;
        if (_clients is { } clients && clients.Bootstrap == bootstrap && clients.Reader.Name.Length > 0)
        {
            return (clients.Admin, clients.Reader);
        }

        DisposeClients();
        var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = bootstrap }).SetLogHandler((_, _) => { }).Build();
        // A client of the group that never subscribes: it only reads the group's committed offsets.
        var reader = new ConsumerBuilder<Ignore, Ignore>(new ConsumerConfig
        {
            BootstrapServers = bootstrap,
            GroupId = settings.LedgerGroup,
            EnableAutoCommit = false,
        }).SetLogHandler((_, _) => { }).Build();
        _clients = (bootstrap, admin, reader);
        return (admin, reader);
    }

    private void DisposeClients()
    {
        if (_clients is { } clients)
        {
            clients.Reader.Dispose();
            clients.Admin.Dispose();
            _clients = null;
        }
    }

    public override void Dispose()
    {
        DisposeClients();
        base.Dispose();
    }

    /// <summary>When did the high watermark first pass <paramref name="position"/>? That message has waited since then.</summary>
    private double AgeOf(int partition, long position, long high, DateTimeOffset now)
    {
        if (!_history.TryGetValue(partition, out var samples))
        {
            _history[partition] = samples = new Queue<(long, DateTimeOffset)>();
        }

        samples.Enqueue((high, now));
        while (samples.Count > HistoryLength)
        {
            samples.Dequeue();
        }

        if (position >= high)
        {
            return 0;
        }

        var firstPast = samples.FirstOrDefault(sample => sample.HighWatermark > position);
        return firstPast == default ? 0 : (now - firstPast.At).TotalSeconds;
    }

    [LoggerMessage(EventId = 5030, Level = LogLevel.Warning, Message = "Could not sample consumer lag: {Reason}")]
    private partial void LogSampleFailed(string reason);
}

public sealed record PartitionLag(int Partition, long Messages, double Seconds);
