using System.Globalization;
using Dapper;
using Firedrill.Lab.Faults.Support;
using Firedrill.Lab.Fleet;
using Firedrill.Lab.Scenarios;
using Npgsql;

namespace Firedrill.Lab.Faults;

/// <summary>
/// Fault 3. Every outbox relay dies at once (every replica SIGKILLed) while payments commit: the
/// payments committed in the last moments sit in the outbox, unpublished, with nothing left to
/// publish them. Replacement replicas come up, and their relays publish what the dead ones left.
/// Checked against the topic itself, read by kcat.
/// </summary>
internal sealed class RelayKilled : Fault
{
    private const double PaymentsPerSecond = 25;
    private const string Unpublished = "SELECT count(*) FROM outbox WHERE published_at IS NULL";

    public override int Number => 3;

    public override string Id => "relay-killed";

    public override string Title => "The outbox relay killed between the commit and the publish";

    public override string Promise =>
        "Every committed payment reaches the payments topic, whenever the process relaying it dies (the transactional outbox; Kafka's at-least-once).";

    public override string Injects =>
        "kill -9 of every replica at once (every relay in the fleet) while payments commit, leaving committed payments unpublished in the outbox; then replacement replicas.";

    public override string Audits =>
        "Every payment in PostgreSQL against the payments topic read from beginning to end by kcat (no consumer group, nothing shared with the shop), and the ledger: one row per payment.";

    public override string Recovery => "From the SIGKILL until the last payment left unpublished by the dead relays was published.";

    public override FleetOptions Fleet(FleetOptions defaults) => defaults with
    {
        Replicas = 2,
        // The relay polls every 200 ms by default, so on an idle machine a kill at a random instant
        // often finds the outbox empty and proves nothing; polling every 2 s (still a sane setting)
        // leaves committed payments waiting most of the time, and the kill waits to see some.
        ShopSettings = new Dictionary<string, string>(defaults.ShopSettings) { ["Payments:IdempotencyLease"] = "00:00:05", ["Kafka:RelayInterval"] = "00:00:02" },
    };

    public override async Task<FaultOutcome> RunAsync(ScenarioContext context, CancellationToken cancellationToken)
    {
        var fleet = context.Fleet;
        var database = fleet.DatabaseConnection;
        var before = context.Duration(TimeSpan.FromSeconds(6), TimeSpan.FromSeconds(4));
        var after = context.Duration(TimeSpan.FromSeconds(8), TimeSpan.FromSeconds(4));
        await using var run = await PaymentRun.StartAsync(context, PaymentsPerSecond, readsPerSecond: 10, before + after + TimeSpan.FromSeconds(20), cancellationToken);
        var clock = run.Clock;
        clock.KeySignal = "outbox rows waiting to be published";
        run.SampleEvery("outbox rows waiting to be published", TimeSpan.FromMilliseconds(500), token => Probes.ScalarAsync(database, Unpublished, token));

        await Task.Delay(before, cancellationToken);
        // Kill only once committed payments are seen waiting in the outbox (bounded: if none ever
        // wait, the check on what was at risk fails and says so).
        await Waiting.UntilAsync(async token => await Probes.ScalarAsync(database, Unpublished, token) >= 3,
            TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(20), cancellationToken);
        var victims = fleet.Shops.ToList();
        var pids = string.Join(' ', victims.Select(shop => shop.Pid.ToString(CultureInfo.InvariantCulture)));
        var killedAt = clock.Enter("relays killed");
        await context.Evidence.ShellAsync("The fault: every replica, and so every relay, killed at once", "during",
            $"kill -9 {pids}  # {string.Join(", ", victims.Select(shop => shop.Name))}", cancellationToken: cancellationToken, run: $"kill -9 {pids} && echo killed");
        // Nothing can publish now: what is unpublished is exactly what the dead relays left behind.
        var (atRisk, lastAtRisk) = await AtRiskAsync(database, cancellationToken);
        await context.Evidence.PsqlAsync("Committed payments the dead relays left unpublished", "during",
            "SELECT count(*) AS unpublished, min(created_at) AS oldest, max(id) AS last_id FROM outbox WHERE published_at IS NULL", cancellationToken);
        var onTopicAtKill = (await TopicReader.ReadAsync(fleet.KafkaBootstrapServers, "payments", cancellationToken)).Select(e => e.EventId).ToHashSet(StringComparer.Ordinal);
        var atRiskNotPublished = await CountAsync(database, "SELECT event_id FROM outbox WHERE published_at IS NULL", onTopicAtKill, cancellationToken);

        clock.Enter("replaced");
        await Task.WhenAll(victims.Select(_ => fleet.AddReplicaAsync(cancellationToken)));

        foreach (var victim in victims)
        {
            await fleet.RemoveReplicaAsync(victim.Name, cancellationToken);
        }

        var published = await Waiting.UntilAsync(async token => await Probes.ScalarAsync(database,
            $"SELECT count(*) FROM outbox WHERE published_at IS NULL AND id <= {lastAtRisk.ToString(CultureInfo.InvariantCulture)}", token) == 0,
            TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(100), cancellationToken);
        var recovery = clock.Now - killedAt;
        clock.Enter("settling");
        await clock.SettleAsync(TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(15), cancellationToken);
        clock.Enter(FaultClock.After);
        await Task.Delay(after, cancellationToken);
        var records = await run.StopAsync();

        // The audit: the outbox drained, the ledger caught up, then the topic read from outside.
        await Waiting.UntilAsync(async token => await Probes.ScalarAsync(database, Unpublished, token) == 0, TimeSpan.FromSeconds(20), TimeSpan.FromMilliseconds(200), cancellationToken);
        await Waiting.UntilAsync(async token => await Probes.ScalarAsync(database,
            "SELECT count(*) FROM payments p WHERE NOT EXISTS (SELECT 1 FROM ledger l WHERE l.payment_id = p.id)", token) == 0,
            TimeSpan.FromSeconds(20), TimeSpan.FromMilliseconds(250), cancellationToken);
        var topic = await TopicReader.ReadAsync(fleet.KafkaBootstrapServers, "payments", cancellationToken);
        context.Evidence.Add("The payments topic, read by kcat", "audit", TopicReader.Command(fleet.KafkaBootstrapServers, "payments") + " | wc -l",
            topic.Count.ToString(CultureInfo.InvariantCulture));
        await context.Evidence.PsqlAsync("Every payment applied to the ledger once", "audit",
            "SELECT count(*) AS payments, (SELECT count(*) FROM ledger) AS ledger_rows, (SELECT count(DISTINCT payment_id) FROM ledger) AS payments_in_ledger FROM payments",
            cancellationToken);

        await using var connection = new NpgsqlConnection(database);
        await connection.OpenAsync(cancellationToken);
        var payments = (await connection.QueryAsync<long>(new CommandDefinition("SELECT id FROM payments", cancellationToken: cancellationToken))).ToList();
        var ledger = (await connection.QueryAsync<(long PaymentId, long Rows)>(new CommandDefinition(
            "SELECT payment_id, count(*) FROM ledger GROUP BY payment_id", cancellationToken: cancellationToken))).ToDictionary(row => row.PaymentId, row => row.Rows);
        var onTopic = topic.GroupBy(e => e.PaymentId).ToDictionary(group => group.Key, group => group.Count());
        var lost = payments.Count(id => !onTopic.ContainsKey(id));
        var duplicated = ledger.Values.Sum(rows => Math.Max(0, rows - 1));
        var payers = await PaymentAudit.RunAsync(database, records, cancellationToken);
        var load = clock.ToResult();
        var afterTally = clock.Tally(load, stage => stage == FaultClock.After);
        return new FaultOutcome
        {
            Load = load,
            Clock = clock,
            Audited = payments.Count,
            Lost = lost,
            Duplicated = duplicated,
            RecoverySeconds = recovery,
            Checks =
            [
                Verdict.EqualTo("committed payments missing from the topic", "audit", lost, 0),
                Verdict.EqualTo("ledger rows beyond one per payment", "audit", duplicated, 0),
                Verdict.EqualTo("payments missing from the ledger", "audit", payments.Count(id => !ledger.ContainsKey(id)), 0),
                Verdict.EqualTo("acknowledged payments missing from PostgreSQL", "audit", payers.Lost, 0),
                Verdict.Above("committed payments left unpublished when the relays died", "during", atRisk, 0),
                Verdict.EqualTo("the dead relays' backlog published (1 = yes)", "during", published ? 1 : 0, 1),
                Verdict.EqualTo("failed attempts once the replacements were in", FaultClock.After, afterTally.Errors, 0),
            ],
            Figures = new Dictionary<string, double>
            {
                ["payments_committed"] = payments.Count,
                ["events_on_topic"] = topic.Count,
                ["payments_on_topic_more_than_once"] = onTopic.Values.Count(copies => copies > 1),
                ["unpublished_at_kill"] = atRisk,
                ["unpublished_and_not_on_topic_at_kill"] = atRiskNotPublished,
                ["payers"] = payers.Audited,
                ["payers_acknowledged"] = payers.Acknowledged,
                ["failed_attempts"] = load.Total.Errors,
            },
            Summary = string.Create(CultureInfo.InvariantCulture,
                $"The relays died with {atRisk} committed payments unpublished ({atRiskNotPublished} not on the topic at all); {recovery:0.0} s later all were published. All {payments.Count} payments are on the topic ({lost} missing) and in the ledger once ({duplicated} extra rows)."),
        };
    }

    private static async Task<(long Count, long LastId)> AtRiskAsync(string database, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(database);
        await connection.OpenAsync(cancellationToken);
        return await connection.QuerySingleAsync<(long, long)>(new CommandDefinition(
            "SELECT count(*), coalesce(max(id), 0) FROM outbox WHERE published_at IS NULL", cancellationToken: cancellationToken));
    }

    private static async Task<long> CountAsync(string database, string sql, HashSet<string> onTopic, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(database);
        await connection.OpenAsync(cancellationToken);
        var ids = await connection.QueryAsync<string>(new CommandDefinition(sql, cancellationToken: cancellationToken));
        return ids.Count(id => !onTopic.Contains(id));
    }
}
