using System.Diagnostics.Metrics;
using Firedrill.Shop.Observability;

namespace Firedrill.Shop.Features.Messaging;

/// <summary>
/// What a consumer-lag investigation reads besides the lag itself (<see cref="ConsumerLagMonitor"/>):
/// events produced and consumed per partition, the time each event takes, rebalances, and which
/// partitions this replica's consumer owns — an operator's view of the group's assignment, since
/// the group's own description is not always available (the mock cluster does not support it).
/// </summary>
internal sealed class MessagingMetrics
{
    private readonly Counter<long> _published;
    private readonly Counter<long> _consumed;
    private readonly Counter<long> _rebalances;
    private readonly Counter<long> _pollTimeouts;
    private readonly Counter<long> _unstored;
    private readonly Histogram<double> _handleDuration;
    private readonly Lock _gate = new();
    private readonly Dictionary<int, int[]> _assigned = [];

    public MessagingMetrics(IMeterFactory meters)
    {
        var meter = meters.Create(ShopMetrics.MeterName);
        _published = meter.CreateCounter<long>("firedrill.outbox.published", "{event}", "Events the outbox relay published, by partition.");
        _consumed = meter.CreateCounter<long>("firedrill.kafka.consumer.messages", "{message}",
            "Messages the ledger consumer handled, by partition (redeliveries included).");
        _rebalances = meter.CreateCounter<long>("firedrill.kafka.consumer.rebalances", "{rebalance}",
            "Partition assignments this replica's consumer received: one per rebalance of the group.");
        _pollTimeouts = meter.CreateCounter<long>("firedrill.kafka.consumer.poll_timeouts", "{timeout}",
            "Times the consumer left the group because its handler kept it from polling for max.poll.interval.ms.");
        _unstored = meter.CreateCounter<long>("firedrill.kafka.consumer.unstored.messages", "{message}",
            "Messages handled after their partition moved to another consumer: their offsets could not be stored, so the new owner reads them again.");
        _handleDuration = meter.CreateHistogram<double>("firedrill.ledger.handle.duration", "s",
            "Time the handler spent on one event (its downstream call), before the batch is applied.", tags: null,
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5] });
        // At zero from the start: a counter whose series appears with its first increment hides that
        // increment from increase() and rate(), which need two samples.
        _pollTimeouts.Add(0);
        _unstored.Add(0);
        _rebalances.Add(0);
        meter.CreateObservableGauge("firedrill.kafka.consumer.assigned.partitions", AssignedCount, "{partition}",
            "Partitions assigned to each of this replica's consumers; absent while a consumer does not run.");
        meter.CreateObservableGauge("firedrill.kafka.consumer.assignment", Assignment, "{partition}",
            "1 for each partition a consumer of this replica owns.");
    }

    public void Published(int partition) => _published.Add(1, Partition(partition));

    public void Consumed(int partition, int count) => _consumed.Add(count, Partition(partition));

    public void PollTimeout() => _pollTimeouts.Add(1);

    public void Unstored(int partition, int count) => _unstored.Add(count, Partition(partition));

    public void Handled(TimeSpan duration) => _handleDuration.Record(duration.TotalSeconds);

    /// <summary>Consumer <paramref name="consumer"/> joined with these partitions (a rebalance ended).</summary>
    public void Assigned(int consumer, IEnumerable<int> partitions)
    {
        lock (_gate)
        {
            _assigned[consumer] = [.. partitions.Order()];
        }

        _rebalances.Add(1);
    }

    /// <summary>The consumer gave partitions up (revoked or lost); an empty list keeps it a member with none.</summary>
    public void Revoked(int consumer, IEnumerable<int> partitions)
    {
        lock (_gate)
        {
            _assigned[consumer] = _assigned.TryGetValue(consumer, out var owned) ? [.. owned.Except(partitions)] : [];
        }
    }

    /// <summary>Joining: a member of the group with no partitions yet.</summary>
    public void Started(int consumer)
    {
        lock (_gate)
        {
            _assigned[consumer] = [];
        }
    }

    /// <summary>The consumer stopped (disabled, or rebuilding): no longer a member.</summary>
    public void Stopped(int consumer)
    {
        lock (_gate)
        {
            _assigned.Remove(consumer);
        }
    }

    private IEnumerable<Measurement<int>> AssignedCount()
    {
        lock (_gate)
        {
            return _assigned.Select(consumer => new Measurement<int>(consumer.Value.Length, Consumer(consumer.Key))).ToList();
        }
    }

    private IEnumerable<Measurement<int>> Assignment()
    {
        lock (_gate)
        {
            return _assigned.SelectMany(consumer => consumer.Value.Select(partition => new Measurement<int>(1, Consumer(consumer.Key), Partition(partition)))).ToList();
        }
    }

    private static KeyValuePair<string, object?> Consumer(int consumer) => new("consumer", consumer);

    private static KeyValuePair<string, object?> Partition(int partition) => new("partition", partition);
}
