using Confluent.Kafka;

namespace Firedrill.Lab.Faults.Support;

/// <summary>
/// A consumer group's committed offsets and a topic's high watermarks, as Kafka holds them
/// (OffsetFetch, ListOffsets). The client never subscribes, so it never joins the group it reads.
/// </summary>
internal sealed class KafkaOffsets(string bootstrap, string group, string topic) : IDisposable
{
    private readonly IConsumer<Ignore, Ignore> _consumer = new ConsumerBuilder<Ignore, Ignore>(new ConsumerConfig
    {
        BootstrapServers = bootstrap,
        GroupId = group,
        EnableAutoCommit = false,
    }).SetLogHandler((_, _) => { }).Build();

    private readonly Lock _gate = new();
    private List<TopicPartition>? _partitions;

    private List<TopicPartition> Partitions()
    {
        if (_partitions is null)
        {
            using var admin = new DependentAdminClientBuilder(_consumer.Handle).Build();
            var metadata = admin.GetMetadata(topic, TimeSpan.FromSeconds(10));
            _partitions = metadata.Topics.Single().Partitions.Select(p => new TopicPartition(topic, p.PartitionId)).OrderBy(p => p.Partition.Value).ToList();
        }

        return _partitions;
    }

    /// <summary>The next offset the group will read, per partition (0 where it has committed nothing).</summary>
    public IReadOnlyDictionary<int, long> Committed()
    {
        lock (_gate)
        {
            return _consumer.Committed(Partitions(), TimeSpan.FromSeconds(10))
                .ToDictionary(offset => offset.Partition.Value, offset => offset.Offset == Offset.Unset ? 0 : offset.Offset.Value);
        }
    }

    /// <summary>The offset the next message will get, per partition.</summary>
    public IReadOnlyDictionary<int, long> HighWatermarks()
    {
        lock (_gate)
        {
            return Partitions().ToDictionary(p => p.Partition.Value, p => _consumer.QueryWatermarkOffsets(p, TimeSpan.FromSeconds(10)).High.Value);
        }
    }

    /// <summary>Messages on the topic the group has not committed past: its lag, as Kafka holds it.</summary>
    public double Lag()
    {
        var high = HighWatermarks();
        var committed = Committed();
        return high.Sum(pair => Math.Max(0, pair.Value - committed.GetValueOrDefault(pair.Key)));
    }

    public void Dispose() => _consumer.Dispose();
}
