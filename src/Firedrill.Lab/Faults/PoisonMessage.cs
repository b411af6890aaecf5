using System.Globalization;
using Confluent.Kafka;
using Dapper;
using Firedrill.Lab.Faults.Support;
using Firedrill.Lab.Fleet;
using Firedrill.Lab.Scenarios;
using Npgsql;

namespace Firedrill.Lab.Faults;

/// <summary>
/// Fault 5. Messages no consumer could ever apply land on the payments topic between real payment
/// events, on every partition: unreadable bytes, and events the ledger refuses (a currency of four
/// letters, an amount past its numeric(14, 2)). Each must reach the dead-letter topic with its
/// reason and origin, and the events behind it on its partition must keep flowing to the ledger.
/// </summary>
internal sealed class PoisonMessage : Fault
{
    private const double PaymentsPerSecond = 20;
    private const string Group = "ledger";
    private const string Topic = "payments";
    private const string DeadLetterTopic = "payments.dead-letter";
    private const string ReasonHeader = "dead-letter-reason";
    private const string SourceHeader = "dead-letter-source";

    private static readonly string[] Poisons =
    [
        "not json {",
        """{"eventId": "poison-currency", "paymentId": 0, "orderId": 0, "amount": 1, "currency": "EURO", "occurredAt": "2026-01-01T00:00:00Z"}""",
        """{"eventId": "poison-amount", "paymentId": 0, "orderId": 0, "amount": 1e13, "currency": "EUR", "occurredAt": "2026-01-01T00:00:00Z"}""",
    ];

    public override int Number => 5;

    public override string Id => "poison-message";

    public override string Title => "Poison messages on the payments topic";

    public override string Promise =>
        "A message the consumer can never apply goes to a dead-letter topic with the reason, once it is read, and its partition keeps flowing: every payment event behind it reaches the ledger, once (the dead-letter channel of Enterprise Integration Patterns; Kafka Connect's errors.tolerance with a DLQ).";

    public override string Injects => string.Create(CultureInfo.InvariantCulture,
        $"The lab's own producer writes {Poisons.Length} kinds of poison (unreadable bytes, a four-letter currency, an amount past the ledger's column) to every partition of {Topic}, between the relay's payment events, while payments flow through the gateway.");

    public override string Audits =>
        $"{DeadLetterTopic} read from its beginning (each poison there, with {ReasonHeader} and {SourceHeader} naming its partition and offset); {Topic} read by kcat against the ledger (one row per payment event, including every event behind a poison); the group's committed offsets past every poison.";

    public override string Recovery => "From the poison written to the group's committed offsets past every poison message.";

    public override FleetOptions Fleet(FleetOptions defaults) => defaults with
    {
        Replicas = 2,
        ShopSettings = new Dictionary<string, string>(defaults.ShopSettings) { ["Payments:IdempotencyLease"] = "00:00:05" },
    };

    public override async Task<FaultOutcome> RunAsync(ScenarioContext context, CancellationToken cancellationToken)
    {
        var fleet = context.Fleet;
        var bootstrap = fleet.KafkaBootstrapServers;
        var before = context.Duration(TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(3));
        var after = context.Duration(TimeSpan.FromSeconds(8), TimeSpan.FromSeconds(5));
        await using var run = await PaymentRun.StartAsync(context, PaymentsPerSecond, readsPerSecond: 10, before + after + TimeSpan.FromSeconds(20), cancellationToken);
        var clock = run.Clock;
        using var offsets = await Task.Run(() => new KafkaOffsets(bootstrap, Group, Topic), cancellationToken);
        var consuming = await Waiting.UntilAsync(_ => Task.FromResult(offsets.Committed().Values.All(offset => offset > 0)),
            TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(250), cancellationToken);
        if (!consuming)
        {
            throw new InvalidOperationException("the ledger group did not commit on every partition within 30 s of the payments starting");
        }

        clock.KeySignal = "ledger group lag (messages)";
        run.SampleEvery(clock.KeySignal, TimeSpan.FromMilliseconds(500), _ => Task.FromResult(offsets.Lag()));
        await Task.Delay(before, cancellationToken);

        // The poison, on every partition, between the relay's events.
        var poisonedAt = clock.Enter("poison written");
        var written = new List<(int Partition, long Offset, string Value)>();
        using (var producer = new ProducerBuilder<string, string>(new ProducerConfig { BootstrapServers = bootstrap, Acks = Acks.All }).SetLogHandler((_, _) => { }).Build())
        {
            foreach (var partition in offsets.HighWatermarks().Keys.Order())
            {
                foreach (var poison in Poisons)
                {
                    var delivered = await producer.ProduceAsync(new TopicPartition(Topic, partition),
                        new Message<string, string> { Key = "poison", Value = poison }, cancellationToken);
                    written.Add((partition, delivered.Offset.Value, poison));
                }
            }
        }

        context.Evidence.Add("The fault: poison written to every partition", "during",
            $"printf '%s\\n' 'not json {{' | kcat -b {bootstrap} -P -t {Topic} -p 0 -k poison  # and the others, per partition",
            string.Join('\n', written.Select(w => string.Create(CultureInfo.InvariantCulture, $"partition {w.Partition} offset {w.Offset}: {w.Value}"))));
        var passed = await Waiting.UntilAsync(_ => Task.FromResult(written.All(w => offsets.Committed()[w.Partition] > w.Offset)),
            TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(100), cancellationToken);
        var recovery = clock.Now - poisonedAt;
        clock.Enter(FaultClock.After);
        await Task.Delay(after, cancellationToken);
        var records = await run.StopAsync();
        await Waiting.UntilAsync(_ => Task.FromResult(offsets.Lag() == 0), TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(250), cancellationToken);

        // The dead-letter topic, read from its beginning by a reader of the lab's own.
        IReadOnlyList<RawMessage> letters;
        using (var dead = new KafkaOffsets(bootstrap, Group, DeadLetterTopic))
        using (var tail = new PartitionTail(bootstrap, DeadLetterTopic))
        {
            var ends = dead.HighWatermarks();
            letters = tail.ReadMessages(ends.ToDictionary(p => p.Key, _ => 0L), ends, TimeSpan.FromSeconds(10));
        }

        var bySource = letters.GroupBy(l => l.Headers.GetValueOrDefault(SourceHeader, ""), StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.ToList(), StringComparer.Ordinal);
        var missing = written.Count(w => !bySource.ContainsKey(Source(w.Partition, w.Offset)));
        var withoutReason = letters.Count(l => string.IsNullOrWhiteSpace(l.Headers.GetValueOrDefault(ReasonHeader)));
        var alteredOrUnknown = letters.Count(l => !written.Any(w => Source(w.Partition, w.Offset) == l.Headers.GetValueOrDefault(SourceHeader) && w.Value == l.Value));
        var extraCopies = bySource.Values.Sum(copies => copies.Count - 1);
        await context.Evidence.ShellAsync("The dead-letter topic, read by kcat", "audit",
            $"kcat -b {bootstrap} -C -t {DeadLetterTopic} -o beginning -e -q -f '%p %o  %h\\n  %s\\n'", cancellationToken: cancellationToken);

        // Every payment event, those behind the poison included, applied once.
        var topic = await TopicReader.ReadAsync(bootstrap, Topic, cancellationToken);
        var behind = topic.Where(e => written.Any(w => w.Partition == e.Partition && e.Offset > w.Offset)).ToList();
        await using var connection = new NpgsqlConnection(fleet.DatabaseConnection);
        await connection.OpenAsync(cancellationToken);
        var ledger = (await connection.QueryAsync<(string EventId, long Rows)>(new CommandDefinition(
            "SELECT event_id, count(*) FROM ledger GROUP BY event_id", cancellationToken: cancellationToken))).ToDictionary(r => r.EventId, r => r.Rows, StringComparer.Ordinal);
        var events = topic.Select(e => e.EventId).Distinct(StringComparer.Ordinal).ToList();
        var lost = events.Count(id => !ledger.ContainsKey(id));
        var behindLost = behind.Select(e => e.EventId).Distinct(StringComparer.Ordinal).Count(id => !ledger.ContainsKey(id));
        var duplicated = ledger.Values.Sum(rows => Math.Max(0, rows - 1));
        var poisonInLedger = ledger.Keys.Count(id => id.StartsWith("poison", StringComparison.Ordinal));
        await context.Evidence.PsqlAsync("Ledger rows per event (one expected), and no poison applied", "audit",
            "SELECT count(*) AS ledger_rows, count(DISTINCT event_id) AS events, count(*) FILTER (WHERE event_id LIKE 'poison%') AS poison_rows FROM ledger", cancellationToken);

        var payers = await PaymentAudit.RunAsync(fleet.DatabaseConnection, records, cancellationToken);
        var load = clock.ToResult();
        return new FaultOutcome
        {
            Load = load,
            Clock = clock,
            Audited = events.Count + written.Count,
            Lost = lost + missing,
            Duplicated = duplicated,
            RecoverySeconds = recovery,
            Checks =
            [
                Verdict.EqualTo("poison messages missing from the dead-letter topic", "audit", missing, 0),
                Verdict.EqualTo("dead letters without a reason", "audit", withoutReason, 0),
                Verdict.EqualTo("dead letters not as written, or from nowhere", "audit", alteredOrUnknown, 0),
                Verdict.EqualTo("group past every poison (1 = yes)", "during", passed ? 1 : 0, 1),
                Verdict.Above("payment events behind a poison on its partition", "audit", behind.Count, 0),
                Verdict.EqualTo("events behind a poison missing from the ledger", "audit", behindLost, 0),
                Verdict.EqualTo("events on the topic missing from the ledger", "audit", lost, 0),
                Verdict.EqualTo("ledger rows beyond one per event", "audit", duplicated, 0),
                Verdict.EqualTo("poison applied to the ledger", "audit", poisonInLedger, 0),
                Verdict.EqualTo("acknowledged payments missing from PostgreSQL", "audit", payers.Lost, 0),
            ],
            Figures = new Dictionary<string, double>
            {
                ["poison_written"] = written.Count,
                ["dead_letters"] = letters.Count,
                ["dead_letter_extra_copies"] = extraCopies,
                ["events_on_topic"] = events.Count,
                ["events_behind_poison"] = behind.Count,
                ["ledger_rows"] = ledger.Values.Sum(),
                ["payers"] = payers.Audited,
                ["payers_acknowledged"] = payers.Acknowledged,
                ["failed_attempts"] = load.Total.Errors,
            },
            Summary = string.Create(CultureInfo.InvariantCulture,
                $"{written.Count} poison messages written across the partitions; {written.Count - missing} reached {DeadLetterTopic} with their reason ({extraCopies} extra copies), and the group was past them all {recovery:0.0} s later. Of {events.Count} payment events ({behind.Count} behind a poison), {lost} are missing from the ledger and {duplicated} were applied twice."),
        };
    }

    private static string Source(int partition, long offset) => string.Create(CultureInfo.InvariantCulture, $"{Topic}/{partition}@{offset}");
}
