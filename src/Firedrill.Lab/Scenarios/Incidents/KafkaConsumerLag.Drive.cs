using System.Diagnostics;
using System.Globalization;
using System.Text;
using Dapper;
using Firedrill.Lab.Fleet;
using Firedrill.Lab.Load;
using Npgsql;

namespace Firedrill.Lab.Scenarios.Incidents;

/// <summary>The load (payments through the gateway) and the measurements, read from outside the group.</summary>
internal sealed partial class KafkaConsumerLag
{
    private const string OrdersKey = "orders";
    private const string ReaderKey = "offsets";
    private const string BrokenStartedKey = "broken-started";
    private const string GroupWaitKey = "group-wait";
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan SampleEvery = TimeSpan.FromMilliseconds(500);
    private static readonly TimeSpan WarmUp = TimeSpan.FromSeconds(2);
    private int _nextOrder = -1;

    /// <summary>
    /// The orders every phase pays, placed in bulk in one statement as the seeder places them (placing
    /// them one by one through the API would take longer than the whole quick run; the incident is
    /// about what happens after a payment).
    /// </summary>
    public override async Task SetupAsync(ScenarioContext context, CancellationToken cancellationToken)
    {
        var seconds = new[] { Phases.Baseline, Phases.Broken, Phases.Fixed }.Sum(phase => PhaseDuration(context, phase).TotalSeconds) + WarmUp.TotalSeconds;
        var count = (int)Math.Ceiling(Chosen.Rate * seconds * 1.2) + Chosen.Burst;
        await using var connection = new NpgsqlConnection(context.Fleet.DatabaseConnection);
        await connection.OpenAsync(cancellationToken);
        var orders = await connection.QueryAsync<(long Id, decimal Total)>(new CommandDefinition(
            """
            WITH placed AS (
                SELECT nextval(pg_get_serial_sequence('orders', 'id')) AS id, 1 + g % 100 AS customer_id, p.id AS product_id, p.price
                FROM generate_series(0, @count - 1) AS g JOIN products p ON p.id = 1 + g * 7 % 1000
            ),
            lines AS (
                INSERT INTO order_lines (order_id, line_no, product_id, quantity, unit_price)
                SELECT id, 1, product_id, 1, price FROM placed
            )
            INSERT INTO orders (id, customer_id, status, total, created_at)
            SELECT id, customer_id, 'placed', price, now() FROM placed
            RETURNING id, total
            """, new { count }, cancellationToken: cancellationToken));
        context.Items[OrdersKey] = orders.OrderBy(order => order.Id).ToArray();
        context.Items[ReaderKey] = new ConsumerGroupOffsets(context.Fleet.KafkaBootstrapServers, Group, Topic);
    }

    /// <summary>
    /// Pays orders for a moment: the payment → outbox → relay → topic → ledger path runs once, and the
    /// group has joined and caught up before the baseline is measured.
    /// </summary>
    public override async Task WarmUpAsync(ScenarioContext context, CancellationToken cancellationToken)
    {
        await PayAsync(context, WarmUp, cancellationToken);
        await WaitForDrainAsync(context, TimeSpan.FromSeconds(10), cancellationToken);
    }

    public override async Task<PhaseRun> DriveAsync(ScenarioContext context, string phase, CancellationToken cancellationToken)
    {
        var duration = PhaseDuration(context, phase);
        var started = context.Time.GetUtcNow();
        if (phase == Phases.Broken)
        {
            context.Items[BrokenStartedKey] = started;
        }

        using var sampling = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var samples = SampleLagAsync(context, sampling.Token);
        var evidence = phase == Phases.Baseline
            ? Task.CompletedTask
            : context.CaptureDuringAsync(duration * 0.5, token => CaptureGroupAsync(context, phase, token), cancellationToken);
        var load = await PayAsync(context, duration, cancellationToken);
        await sampling.CancelAsync();
        var lag = await samples;
        await evidence;

        var window = Math.Max(2, (int)Math.Ceiling((context.Time.GetUtcNow() - started).TotalSeconds));
        var total = lag.Select(sample => (sample.Seconds, Lag: sample.Partitions.Sum(p => p.Lag))).ToList();
        var produced = ProducedPerPartition(lag);
        var signals = new Dictionary<string, double>
        {
            ["production_rate"] = Chosen.Rate,
            ["lag_start"] = total.Count == 0 ? 0 : total[0].Lag,
            ["lag_slope_per_s"] = Math.Round(Slope(total), 2),
            // The end of the phase: the median of the last two seconds' samples, so one commit's timing does not decide it.
            ["lag_end"] = Median(total.Where(sample => sample.Seconds >= duration.TotalSeconds - 2).Select(sample => (double)sample.Lag)),
            // Only what was produced since the phase began (its settings applied): what is left of an earlier backlog does not count.
            ["lag_of_phase_events_end"] = Median(lag.Where(sample => sample.Seconds >= duration.TotalSeconds - 2)
                .Select(sample => (double)LagSince(lag[0].Partitions, sample.Partitions))),
            // Events produced during the phase, per partition, from the topic's log-end offsets (the topic's own count, not the shop's).
            ["events_produced"] = produced.Values.Sum(),
            ["busiest_partition_share"] = produced.Values.Sum() == 0 ? 0 : Math.Round((double)produced.Values.Max() / produced.Values.Sum(), 3),
            ["consumers_without_partitions"] = await ScalarAsync(context, "count(firedrill_kafka_consumer_assigned_partitions == 0) or vector(0)", cancellationToken),
            ["rebalances"] = Math.Round(await ScalarAsync(context, $"sum(increase(firedrill_kafka_consumer_rebalances_total[{window}s])) or vector(0)", cancellationToken)),
            ["poll_timeouts"] = Math.Round(await ScalarAsync(context, $"sum(increase(firedrill_kafka_consumer_poll_timeouts_total[{window}s])) or vector(0)", cancellationToken)),
            ["events_unstored"] = Math.Round(await ScalarAsync(context,
                $"sum(increase(firedrill_kafka_consumer_unstored_messages_total[{window}s])) or vector(0)", cancellationToken)),
            ["events_redelivered"] = Math.Round(await ScalarAsync(context,
                $"sum(increase(firedrill_ledger_events_total{{delivery=\"redelivered\"}}[{window}s])) or vector(0)", cancellationToken)),
            ["handle_p50_ms"] = Math.Round(1000 * await ScalarAsync(context,
                $"histogram_quantile(0.5, sum by (le) (rate(firedrill_ledger_handle_duration_seconds_bucket[{window}s])))", cancellationToken), 1),
        };
        if (phase == Phases.Fixed)
        {
            if (context.Items.TryGetValue(GroupWaitKey, out var waited))
            {
                // Before the phase: how long the rollout's rebalances took until every partition had an owner again.
                signals["seconds_until_group_whole"] = (double)waited;
            }

            await WaitForDrainAsync(context, TimeSpan.FromSeconds(15), cancellationToken);
            var sinceBroken = (int)Math.Ceiling((context.Time.GetUtcNow() - (DateTimeOffset)context.Items[BrokenStartedKey]).TotalSeconds);
            signals["events_redelivered_since_broken"] = Math.Round(await ScalarAsync(context,
                $"sum(increase(firedrill_ledger_events_total{{delivery=\"redelivered\"}}[{sinceBroken}s])) or vector(0)", cancellationToken));
            foreach (var (name, value) in await ExactlyOnceAsync(context, cancellationToken))
            {
                signals[name] = value;
            }

            ((ConsumerGroupOffsets)context.Items[ReaderKey]).Dispose();
        }

        return new PhaseRun(load, signals);
    }

    /// <summary>Pays orders at the variant's steady rate through the gateway, each with its total in EUR and its own Idempotency-Key.</summary>
    private async Task<LoadResult> PayAsync(ScenarioContext context, TimeSpan duration, CancellationToken cancellationToken)
    {
        var orders = (ValueTuple<long, decimal>[])context.Items[OrdersKey];
        using var client = context.GatewayClient(RequestTimeout);
        return await new LoadGenerator(client, context.Time).RunAsync(new LoadProfile
        {
            Model = LoadModel.Open,
            RatePerSecond = Chosen.Rate,
            Duration = duration,
            RequestTimeout = RequestTimeout,
            Mix =
            [
                new RequestTemplate("payment", 1, _ =>
                {
                    var (orderId, total) = orders[Math.Min(Interlocked.Increment(ref _nextOrder), orders.Length - 1)];
                    return PaymentRequest(orderId, total);
                }),
            ],
        }, context.Progress, cancellationToken);
    }

    /// <summary>Pays <paramref name="count"/> orders as fast as 16 clients can, unmeasured.</summary>
    private async Task BurstAsync(ScenarioContext context, int count, CancellationToken cancellationToken)
    {
        var orders = (ValueTuple<long, decimal>[])context.Items[OrdersKey];
        using var client = context.GatewayClient(RequestTimeout);
        await Parallel.ForAsync(0, count, new ParallelOptions { MaxDegreeOfParallelism = 16, CancellationToken = cancellationToken }, async (_, token) =>
        {
            var (orderId, total) = orders[Math.Min(Interlocked.Increment(ref _nextOrder), orders.Length - 1)];
            using var request = PaymentRequest(orderId, total);
            using var response = await client.SendAsync(request, token);
        });
    }

    private static HttpRequestMessage PaymentRequest(long orderId, decimal total)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/api/payments")
        {
            Content = new StringContent(string.Create(CultureInfo.InvariantCulture, $$"""{"orderId": {{orderId}}, "amount": {{total}}, "currency": "EUR"}"""),
                Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("Idempotency-Key", Guid.NewGuid().ToString());
        return request;
    }

    /// <summary>The group's offsets and the log-end offsets, per partition, every half second, read with the admin client from outside the group.</summary>
    private static async Task<List<(double Seconds, IReadOnlyList<PartitionOffsets> Partitions)>> SampleLagAsync(ScenarioContext context, CancellationToken cancellationToken)
    {
        var reader = (ConsumerGroupOffsets)context.Items[ReaderKey];
        var samples = new List<(double, IReadOnlyList<PartitionOffsets>)>();
        var started = Stopwatch.GetTimestamp();
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                var partitions = await reader.ReadAsync(cancellationToken);
                samples.Add((Stopwatch.GetElapsedTime(started).TotalSeconds, partitions));
                await Task.Delay(SampleEvery, context.Time, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                break;
            }
            catch (Confluent.Kafka.KafkaException)
            {
                // A sample lost to a slow broker answer: the next one counts.
            }
        }

        return samples;
    }

    /// <summary>
    /// Waits, bounded, until the group is whole again, as the members report it: every partition of the
    /// topic has an owner and every member owns one, for a second on end (two of Prometheus's scrapes),
    /// so a rebalance still in progress does not pass for the end of one.
    /// </summary>
    private static async Task<double> WaitForGroupAsync(ScenarioContext context, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var partitions = (await ((ConsumerGroupOffsets)context.Items[ReaderKey]).ReadAsync(cancellationToken)).Count;
        var deadline = Stopwatch.GetTimestamp() + 15 * Stopwatch.Frequency;
        long? wholeSince = null;
        while (Stopwatch.GetTimestamp() < deadline)
        {
            var owned = await ScalarAsync(context, "sum(firedrill_kafka_consumer_assigned_partitions)", cancellationToken);
            var idle = await ScalarAsync(context, "count(firedrill_kafka_consumer_assigned_partitions == 0) or vector(0)", cancellationToken);
            wholeSince = owned == partitions && idle == 0 ? wholeSince ?? Stopwatch.GetTimestamp() : null;
            if (wholeSince is { } since && Stopwatch.GetElapsedTime(since) >= TimeSpan.FromSeconds(1))
            {
                break;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(250), context.Time, cancellationToken);
        }

        return Math.Round(Stopwatch.GetElapsedTime(started).TotalSeconds, 1);
    }

    /// <summary>Waits, bounded, until every payment is published and the group has committed everything.</summary>
    private static async Task WaitForDrainAsync(ScenarioContext context, TimeSpan limit, CancellationToken cancellationToken)
    {
        var reader = (ConsumerGroupOffsets)context.Items[ReaderKey];
        var deadline = Stopwatch.GetTimestamp() + (long)(limit.TotalSeconds * Stopwatch.Frequency);
        await using var connection = new NpgsqlConnection(context.Fleet.DatabaseConnection);
        await connection.OpenAsync(cancellationToken);
        while (Stopwatch.GetTimestamp() < deadline)
        {
            var unpublished = await connection.ExecuteScalarAsync<long>(new CommandDefinition(
                "SELECT count(*) FROM outbox WHERE published_at IS NULL", cancellationToken: cancellationToken));
            if (unpublished == 0 && (await reader.ReadAsync(cancellationToken)).Sum(p => p.Lag) == 0)
            {
                return;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(250), context.Time, cancellationToken);
        }
    }

    private static async Task<double> ScalarAsync(ScenarioContext context, string promql, CancellationToken cancellationToken) =>
        await context.Prometheus.QueryScalarAsync(promql, null, cancellationToken) ?? 0;

    /// <summary>Events appended to each partition between the first sample and the last.</summary>
    private static Dictionary<int, long> ProducedPerPartition(List<(double Seconds, IReadOnlyList<PartitionOffsets> Partitions)> samples) =>
        samples.Count == 0
            ? []
            : samples[^1].Partitions.ToDictionary(p => p.Partition,
                p => p.LogEnd - (samples[0].Partitions.FirstOrDefault(first => first.Partition == p.Partition)?.LogEnd ?? p.LogStart));

    /// <summary>Events appended since <paramref name="mark"/> that the group has not committed yet.</summary>
    internal static long LagSince(IReadOnlyList<PartitionOffsets> mark, IReadOnlyList<PartitionOffsets> now) =>
        now.Sum(p =>
        {
            var from = mark.FirstOrDefault(m => m.Partition == p.Partition)?.LogEnd ?? p.LogStart;
            return Math.Max(0, p.LogEnd - Math.Max(from, p.Committed >= 0 ? p.Committed : p.LogStart));
        });

    /// <summary>Least-squares slope of lag over time (messages per second).</summary>
    internal static double Slope(IReadOnlyList<(double Seconds, long Lag)> samples)
    {
        if (samples.Count < 2)
        {
            return 0;
        }

        var meanX = samples.Average(s => s.Seconds);
        var meanY = samples.Average(s => (double)s.Lag);
        var covariance = samples.Sum(s => (s.Seconds - meanX) * (s.Lag - meanY));
        var variance = samples.Sum(s => (s.Seconds - meanX) * (s.Seconds - meanX));
        return variance == 0 ? 0 : covariance / variance;
    }

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length == 0 ? 0 : sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }
}
