using Confluent.Kafka;
using Confluent.Kafka.Admin;

namespace Firedrill.Lab.Fleet;

/// <summary>One partition as <c>kafka-consumer-groups --describe</c> shows it.</summary>
public sealed record PartitionOffsets(int Partition, long Committed, long LogStart, long LogEnd)
{
    /// <summary>Messages behind: with no commit yet the group starts at the earliest retained message.</summary>
    public long Lag => Math.Max(0, LogEnd - (Committed >= 0 ? Committed : LogStart));
}

/// <summary>
/// Reads a consumer group's committed offsets and each partition's log-end offset through the
/// admin client, from outside the group, as <c>kafka-consumer-groups --describe</c> does: the
/// operator's view of lag, independent of what the consumers say about themselves. The group's
/// members come from <c>DescribeConsumerGroups</c> where the cluster supports it (librdkafka's mock
/// does not).
/// </summary>
public sealed class ConsumerGroupOffsets : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);

    private readonly IAdminClient _admin;
    private readonly IConsumer<Ignore, Ignore> _watermarks;
    private readonly string _group;
    private readonly string _topic;

    public ConsumerGroupOffsets(string bootstrap, string group, string topic)
    {
        (_group, _topic) = (group, topic);
        _admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = bootstrap }).SetLogHandler((_, _) => { }).Build();
        // Never subscribes: only asks the brokers for watermarks. Its group id is its own, not the one it reads.
        _watermarks = new ConsumerBuilder<Ignore, Ignore>(new ConsumerConfig { BootstrapServers = bootstrap, GroupId = "firedrill-offsets-reader", EnableAutoCommit = false })
            .SetLogHandler((_, _) => { }).Build();
    }

    public async Task<IReadOnlyList<PartitionOffsets>> ReadAsync(CancellationToken cancellationToken)
    {
        var partitions = await Task.Run(() => _admin.GetMetadata(_topic, Timeout), cancellationToken) is { } metadata
            ? metadata.Topics.Single().Partitions.Select(p => new TopicPartition(_topic, p.PartitionId)).OrderBy(p => p.Partition.Value).ToList()
            : [];
        var listed = await _admin.ListConsumerGroupOffsetsAsync([new ConsumerGroupTopicPartitions(_group, partitions)],
            new ListConsumerGroupOffsetsOptions { RequestTimeout = Timeout });
        var committed = listed.Single().Partitions.ToDictionary(p => p.Partition.Value, p => p.Offset.Value);
        return await Task.Run(() => partitions.Select(partition =>
        {
            var watermarks = _watermarks.QueryWatermarkOffsets(partition, Timeout);
            return new PartitionOffsets(partition.Partition.Value, committed.GetValueOrDefault(partition.Partition.Value, Offset.Unset.Value),
                watermarks.Low.Value, watermarks.High.Value);
        }).ToList(), cancellationToken);
    }

    /// <summary>The group's members and their partitions, or why the cluster cannot say.</summary>
    public async Task<string> MembersAsync()
    {
        try
        {
            var described = await _admin.DescribeConsumerGroupsAsync([_group], new DescribeConsumerGroupsOptions { RequestTimeout = Timeout });
            var group = described.ConsumerGroupDescriptions.Single();
            return string.Join('\n', group.Members.Select(member =>
                $"{member.ConsumerId} {member.Host} [{string.Join(",", member.Assignment.TopicPartitions.Select(p => p.Partition.Value))}]"));
        }
        catch (KafkaException ex)
        {
            return $"(members unknown: {ex.Error.Reason})";
        }
    }

    /// <summary>The table <c>kafka-consumer-groups --describe</c> prints, without the members.</summary>
    public static string Format(string group, string topic, IReadOnlyList<PartitionOffsets> partitions)
    {
        var lines = new List<string> { $"{"GROUP",-10} {"TOPIC",-10} {"PARTITION",9} {"CURRENT-OFFSET",14} {"LOG-END-OFFSET",14} {"LAG",6}" };
        lines.AddRange(partitions.Select(p =>
            $"{group,-10} {topic,-10} {p.Partition,9} {(p.Committed >= 0 ? p.Committed.ToString(System.Globalization.CultureInfo.InvariantCulture) : "-"),14} {p.LogEnd,14} {p.Lag,6}"));
        lines.Add($"{"",-10} {"total",-10} {"",9} {"",14} {partitions.Sum(p => p.LogEnd),14} {partitions.Sum(p => p.Lag),6}");
        return string.Join('\n', lines);
    }

    public void Dispose()
    {
        _watermarks.Dispose();
        _admin.Dispose();
    }
}
