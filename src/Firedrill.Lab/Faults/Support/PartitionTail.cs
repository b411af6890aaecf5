using System.Diagnostics;
using System.Text.Json;
using Confluent.Kafka;

namespace Firedrill.Lab.Faults.Support;

/// <summary>
/// Reads ranges of a topic's partitions by assignment (no group membership, no commits): the
/// events a consumer group has not committed past yet, as Kafka holds them.
/// </summary>
internal sealed class PartitionTail(string bootstrap, string topic) : IDisposable
{
    private readonly IConsumer<Ignore, string> _consumer = new ConsumerBuilder<Ignore, string>(new ConsumerConfig
    {
        BootstrapServers = bootstrap,
        // Never used to join or commit (the client only assigns), but librdkafka wants one.
        GroupId = "firedrill-lab-tail-" + Guid.NewGuid().ToString("N"),
        EnableAutoCommit = false,
        EnablePartitionEof = true,
        FetchWaitMaxMs = 10,
    }).SetLogHandler((_, _) => { }).Build();

    /// <summary>The payment events at offsets [from, to) of each partition, read within <paramref name="limit"/>.</summary>
    public IReadOnlyList<TopicEvent> Read(IReadOnlyDictionary<int, long> from, IReadOnlyDictionary<int, long> to, TimeSpan limit)
    {
        var events = new List<TopicEvent>();
        foreach (var message in ReadMessages(from, to, limit))
        {
            using var json = JsonDocument.Parse(message.Value ?? "null");
            var root = json.RootElement;
            events.Add(new TopicEvent(message.Partition, message.Offset, root.GetProperty("eventId").GetString()!,
                root.GetProperty("paymentId").GetInt64(), root.GetProperty("orderId").GetInt64()));
        }

        return events;
    }

    /// <summary>The messages at offsets [from, to) of each partition as they are, headers included.</summary>
    public IReadOnlyList<RawMessage> ReadMessages(IReadOnlyDictionary<int, long> from, IReadOnlyDictionary<int, long> to, TimeSpan limit)
    {
        var remaining = from.Where(p => to.GetValueOrDefault(p.Key) > p.Value).Select(p => p.Key).ToHashSet();
        var events = new List<RawMessage>();
        if (remaining.Count == 0)
        {
            return events;
        }

        _consumer.Assign(remaining.Select(p => new TopicPartitionOffset(topic, p, from[p])));
        try
        {
            var started = Stopwatch.GetTimestamp();
            while (remaining.Count > 0 && Stopwatch.GetElapsedTime(started) < limit)
            {
                var result = _consumer.Consume(TimeSpan.FromMilliseconds(100));
                if (result is null)
                {
                    continue;
                }

                var partition = result.Partition.Value;
                if (result.IsPartitionEOF || result.Offset.Value >= to[partition])
                {
                    remaining.Remove(partition);
                    continue;
                }

                events.Add(new RawMessage(partition, result.Offset.Value, result.Message.Value,
                    (result.Message.Headers ?? []).ToDictionary(h => h.Key, h => System.Text.Encoding.UTF8.GetString(h.GetValueBytes()), StringComparer.Ordinal)));
                if (result.Offset.Value + 1 >= to[partition])
                {
                    remaining.Remove(partition);
                }
            }
        }
        finally
        {
            _consumer.Unassign();
        }

        return events;
    }

    public void Dispose() => _consumer.Dispose();
}

/// <summary>A message as Kafka holds it (the last value of each header).</summary>
internal sealed record RawMessage(int Partition, long Offset, string? Value, IReadOnlyDictionary<string, string> Headers);
