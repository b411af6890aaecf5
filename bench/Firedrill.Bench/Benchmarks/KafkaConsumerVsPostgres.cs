using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Confluent.Kafka;
using Dapper;
using Firedrill.Bench.Harness;
using Npgsql;

namespace Firedrill.Bench.Benchmarks;

/// <summary>
/// The shop's ledger consumer draining a backlog of payment events, against raw librdkafka
/// consumption of the same topic and against pgbench inserting one row per transaction.
/// </summary>
internal sealed class KafkaConsumerVsPostgres : IBenchmark
{
    private const int Events = 20_000;
    private const string Topic = "payments";

    private const string SingleRowInsert = """
        \set k random(1, 1000000000000000)
        INSERT INTO processed_events (event_id, processed_at) VALUES ('pgb-' || :client_id || '-' || :k, now());
        """;

    public string Name => "kafka";

    public string Title => "Kafka consumer vs librdkafka and PostgreSQL";

    public string Method =>
        $"{Events:N0} payment events (keyed by order, spread over the topic's 4 partitions on the lab's librdkafka mock cluster) are produced at once; "
        + "one shop replica's ledger consumer then applies them: each event idempotently (its id into `processed_events`, its row into `ledger`), "
        + "in batches, offsets stored after the batch commits. Its rate is events over the time between the first and the last "
        + "`processed_at` of the run's events. References: a bare librdkafka consumer (Confluent.Kafka, the shop's consumer settings, no work) "
        + "reading the same topic from the start in a new group; and `pgbench -c 1` inserting one `processed_events` row per transaction, "
        + "the consumer's one connection doing row-at-a-time work.";

    public async Task<BenchmarkResult> RunAsync(BenchContext context, CancellationToken cancellationToken)
    {
        var result = new BenchmarkResult(Name, Title);
        await using var fleet = await context.StartFleetAsync(Name, 1, cancellationToken, shop: new Dictionary<string, string>
        {
            ["Kafka:RelayEnabled"] = "false",
            ["Jobs:InventorySyncEnabled"] = "false",
        });
        var shop = fleet.Shops[0];
        using var producer = new ProducerBuilder<string, string>(new ProducerConfig { BootstrapServers = fleet.KafkaBootstrapServers, LingerMs = 5 }).Build();

        var applied = result.Measure("ledger consumer: events applied/s", "events/s");
        var raw = result.Measure("raw librdkafka consumer: messages/s", "msg/s");
        var pgbench = result.Measure("pgbench -c 1: single-row inserts/s", "tx/s");
        var shopCpu = result.Measure("shop CPU per event applied", "µs");
        var pgCpu = result.Measure("PostgreSQL CPU per event applied", "µs");
        var pgbenchCpu = result.Measure("PostgreSQL CPU per pgbench insert", "µs");
        var cpu = new CpuMeter(new Dictionary<string, Func<IEnumerable<int>>>
        {
            ["shop"] = () => [shop.Pid],
            ["postgres"] = CpuMeter.Postgres,
            ["pgbench"] = () => CpuMeter.ByName("pgbench"),
        });
        // A first backlog, not recorded: the consumer's code paths compiled, its group joined.
        BenchContext.Log("  warm-up");
        var warm = $"warm-{Guid.NewGuid():N}"[..12];
        Produce(producer, warm);
        await WaitAppliedAsync(fleet.DatabaseConnection, warm, cpu, context, cancellationToken, sample: false);
        for (var run = 1; run <= context.Runs; run++)
        {
            var prefix = $"bench-{run}-{Guid.NewGuid():N}"[..16];
            Produce(producer, prefix);
            var (rate, split) = await WaitAppliedAsync(fleet.DatabaseConnection, prefix, cpu, context, cancellationToken);
            applied.Add(rate);
            shopCpu.Add(split?.MicrosecondsPer("shop", rate) ?? double.NaN);
            pgCpu.Add(split?.MicrosecondsPer("postgres", rate) ?? double.NaN);
            raw.Add(ConsumeRaw(fleet.KafkaBootstrapServers, cancellationToken));
            var insert = await PgBench.RunAsync(fleet.DatabaseConnection, SingleRowInsert, 1, context.Duration, prepared: false, cpu, cancellationToken);
            pgbench.Add(insert.Tps);
            pgbenchCpu.Add(insert.Cpu!.MicrosecondsPer("postgres", insert.Tps));
            BenchContext.Log($"  run {run}: applied {rate:0} events/s, raw {raw.Values[^1]:0} msg/s, pgbench {insert.Tps:0} inserts/s");
        }

        result.AddRatio("events applied/s ÷ pgbench single-row inserts/s", RatioSeries.Of(applied, pgbench), low: 1.0);
        result.AddRatio("events applied/s ÷ raw librdkafka messages/s", RatioSeries.Of(applied, raw));
        return result;
    }

    private static void Produce(IProducer<string, string> producer, string prefix)
    {
        var now = DateTime.UtcNow;
        for (var i = 1; i <= Events; i++)
        {
            var orderId = i % 1000 + 1;
            var payload = JsonSerializer.Serialize(new { eventId = $"{prefix}-{i}", paymentId = i, orderId, amount = 10.00m, currency = "EUR", occurredAt = now });
            producer.Produce(Topic, new Message<string, string> { Key = orderId.ToString(CultureInfo.InvariantCulture), Value = payload });
        }

        producer.Flush(TimeSpan.FromSeconds(30));
    }

    /// <summary>Waits until every event of the run is in the ledger; the rate comes from the database's own timestamps.</summary>
    private static async Task<(double Rate, CpuSplit? Cpu)> WaitAppliedAsync(
        string database, string prefix, CpuMeter cpu, BenchContext context, CancellationToken cancellationToken, bool sample = true)
    {
        await using var connection = new NpgsqlConnection(database);
        await connection.OpenAsync(cancellationToken);
        var deadline = Stopwatch.StartNew();
        CpuSplit? split = null;
        var sampling = Task.CompletedTask;
        while (true)
        {
            var count = await connection.ExecuteScalarAsync<long>("SELECT count(*) FROM processed_events WHERE event_id LIKE @prefix", new { prefix = prefix + "-%" });
            if (count >= Events)
            {
                await sampling;
                var ledger = await connection.ExecuteScalarAsync<long>("SELECT count(*) FROM ledger WHERE event_id LIKE @prefix", new { prefix = prefix + "-%" });
                if (ledger != Events)
                {
                    throw new InvalidOperationException($"{Events} events were applied but the ledger holds {ledger} rows for them");
                }

                // processed_at is the start of the event's batch transaction: the events of every batch but
                // the last were applied between the first batch's start and the last batch's start.
                var (before, seconds) = await connection.QuerySingleAsync<(long, double)>(
                    """
                    WITH run AS (SELECT processed_at FROM processed_events WHERE event_id LIKE @prefix)
                    SELECT count(*) FILTER (WHERE processed_at < (SELECT max(processed_at) FROM run)),
                           extract(epoch FROM max(processed_at) - min(processed_at))::float8
                    FROM run
                    """, new { prefix = prefix + "-%" });
                if (before == 0 || seconds <= 0)
                {
                    throw new InvalidOperationException($"the {Events} events were applied in one batch: too few to time; raise the event count");
                }

                return (before / seconds, split);
            }

            // Sample the CPU once the consumer is busy, over a window shorter than the drain.
            if (sample && count > 0 && sampling.IsCompleted && split is null)
            {
                sampling = Task.Run(async () => split = await cpu.SampleAsync(TimeSpan.FromSeconds(1.5), cancellationToken), cancellationToken);
            }

            if (deadline.Elapsed > TimeSpan.FromSeconds(120) + context.Duration)
            {
                throw new TimeoutException($"only {count} of {Events} events were applied within {deadline.Elapsed.TotalSeconds:0} s");
            }

            await Task.Delay(50, cancellationToken);
        }
    }

    /// <summary>Reads the whole topic in a new group with the shop's consumer settings and no work; messages per second from the first to the last.</summary>
    private static double ConsumeRaw(string bootstrap, CancellationToken cancellationToken)
    {
        using var consumer = new ConsumerBuilder<string, string>(new ConsumerConfig
        {
            BootstrapServers = bootstrap,
            GroupId = "bench-raw-" + Guid.NewGuid().ToString("N"),
            AutoOffsetReset = AutoOffsetReset.Earliest,
            EnableAutoCommit = false,
            SessionTimeoutMs = 6000,
        }).Build();
        var partitions = Enumerable.Range(0, 4).Select(p => new TopicPartition(Topic, p)).ToList();
        // What the partitions hold now (the mock drops its oldest data past 5 MiB a partition).
        var total = partitions.Select(p => consumer.QueryWatermarkOffsets(p, TimeSpan.FromSeconds(10))).Sum(w => w.High.Value - w.Low.Value);
        consumer.Assign(partitions.Select(p => new TopicPartitionOffset(p, Offset.Beginning)));
        long read = 0;
        Stopwatch? watch = null;
        var limit = Stopwatch.StartNew();
        while (read < total && limit.Elapsed < TimeSpan.FromSeconds(60))
        {
            cancellationToken.ThrowIfCancellationRequested();
            var message = consumer.Consume(TimeSpan.FromMilliseconds(500));
            if (message?.Message is null)
            {
                continue;
            }

            watch ??= Stopwatch.StartNew();
            read++;
        }

        if (read < total)
        {
            throw new TimeoutException($"the raw consumer read {read} of {total} messages in 60 s");
        }

        return read / Math.Max(watch!.Elapsed.TotalSeconds, 0.001);
    }
}
