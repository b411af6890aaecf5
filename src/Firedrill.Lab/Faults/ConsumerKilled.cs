using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Dapper;
using Firedrill.Lab.Faults.Support;
using Firedrill.Lab.Fleet;
using Firedrill.Lab.Scenarios;
using Npgsql;

namespace Firedrill.Lab.Faults;

/// <summary>
/// Fault 4. A ledger consumer dies after committing a batch to PostgreSQL and before Kafka has its
/// offsets (they are committed in the background, every second): the events it applied will be
/// delivered again, to whichever consumer takes its partitions over. The consumer's idempotent
/// apply (the event id in <c>processed_events</c>, in the ledger's transaction) must absorb them.
/// </summary>
internal sealed partial class ConsumerKilled : Fault
{
    private const double PaymentsPerSecond = 25;
    private const string Group = "ledger";
    private const string Topic = "payments";

    // Kafka's own default auto.commit.interval.ms: the window between a batch's database commit and
    // its offset commit is then seconds wide, not the shop's 200 ms, so the kill lands in it every time.
    private static readonly TimeSpan CommitInterval = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan LatestKill = TimeSpan.FromSeconds(2);

    public override int Number => 4;

    public override string Id => "consumer-killed";

    public override string Title => "The ledger consumer killed between its commit and its offset commit";

    public override string Promise =>
        "Every payment event is applied to the ledger exactly once, although Kafka delivers at least once and a consumer may die after its database commit and before its offset commit (an idempotent consumer).";

    public override string Injects =>
        "kill -9 of one of two replicas (one of the ledger group's two members) while events flow, then a replacement; the survivor takes the dead member's partitions after the session timeout and reads them again from the last committed offsets.";

    public override string Audits =>
        "The topic read by kcat against the ledger table: one ledger row per event; and which events were applied but not committed when the consumer died (processed_events and the group's committed offsets at the kill), to prove the window was hit.";

    public override string Recovery => "From the SIGKILL until every partition the dead consumer held was being committed again.";

    public override FleetOptions Fleet(FleetOptions defaults) => defaults with
    {
        Replicas = 2,
        ShopSettings = new Dictionary<string, string>(defaults.ShopSettings)
        {
            ["Payments:IdempotencyLease"] = "00:00:05",
            ["Kafka:CommitInterval"] = CommitInterval.ToString("c", CultureInfo.InvariantCulture),
        },
    };

    public override async Task<FaultOutcome> RunAsync(ScenarioContext context, CancellationToken cancellationToken)
    {
        var fleet = context.Fleet;
        var database = fleet.DatabaseConnection;
        var after = context.Duration(TimeSpan.FromSeconds(8), TimeSpan.FromSeconds(4));
        await using var run = await PaymentRun.StartAsync(context, PaymentsPerSecond, readsPerSecond: 10, TimeSpan.FromSeconds(35), cancellationToken);
        var clock = run.Clock;

        // Before the kill: the group consumes and commits on every partition.
        using var offsets = await Task.Run(() => new KafkaOffsets(fleet.KafkaBootstrapServers, Group, Topic), cancellationToken);
        var consuming = await Waiting.UntilAsync(_ => Task.FromResult(offsets.Committed().Values.All(offset => offset > 0)),
            TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(250), cancellationToken);
        if (!consuming)
        {
            throw new InvalidOperationException("the ledger group did not commit on every partition within 30 s of the payments starting");
        }

        clock.KeySignal = "ledger group lag (messages)";
        run.SampleEvery("ledger group lag (messages)", TimeSpan.FromMilliseconds(500), _ => Task.FromResult(offsets.Lag()));

        // The kill is timed from what Kafka and PostgreSQL show, not from luck: right after a background
        // commit of the victim's partitions (seen as its committed offsets moving), as soon as events past
        // that commit are in processed_events. The next commit is a whole interval away.
        var victim = fleet.Shops[0];
        var owned = await OwnedPartitionsAsync(victim, cancellationToken);
        using var tail = new PartitionTail(fleet.KafkaBootstrapServers, Topic);
        var trigger = await WaitForWindowAsync(database, offsets, tail, owned, cancellationToken);
        var killedAt = clock.Enter("consumer killed");
        await victim.KillAsync();
        var committedAtKill = offsets.Committed();
        var appliedAtKill = await EventIdsAsync(database, "SELECT event_id FROM processed_events", cancellationToken);
        var orphaned = owned.ToHashSet();
        context.Evidence.Add($"The fault: {victim.Name}, a member of the ledger group, killed in the window", "during",
            $"kill -9 {victim.Pid.ToString(CultureInfo.InvariantCulture)}  # {victim.Name}, sent by the lab when the condition below held",
            string.Create(CultureInfo.InvariantCulture,
                $"{victim.Name} owned partitions [{string.Join(",", owned)}] (its /metrics: firedrill_kafka_consumer_assignment); its committed offsets last moved at most {trigger.SinceCommit.TotalMilliseconds:0} ms before the kill (background commits every {CommitInterval.TotalSeconds:0} s); {trigger.Applied} events past them were already in processed_events: killed with SIGKILL."));
        var high = offsets.HighWatermarks();
        context.Evidence.Add("The group's committed offsets at the kill, and the topic's end", "during",
            "(the lab's Kafka client: OffsetFetch for group ledger, ListOffsets for payments)",
            string.Join('\n', committedAtKill.Keys.Order().Select(p => string.Create(CultureInfo.InvariantCulture,
                $"partition {p}: committed {committedAtKill[p]}, end {high[p]}{(orphaned.Contains(p) ? "  (held by the dead member)" : "")}"))));

        clock.Enter("replaced");
        await fleet.AddReplicaAsync(cancellationToken);
        await fleet.RemoveReplicaAsync(victim.Name, cancellationToken);
        var resumed = await Waiting.UntilAsync(_ => Task.FromResult(orphaned.All(p => offsets.Committed()[p] > committedAtKill[p])),
            TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(200), cancellationToken);
        var recovery = clock.Now - killedAt;
        clock.Enter("settling");
        await clock.SettleAsync(TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(15), cancellationToken);
        clock.Enter(FaultClock.After);
        await Task.Delay(after, cancellationToken);
        var records = await run.StopAsync();

        // Audit once the group has caught up with the end of the topic.
        await Waiting.UntilAsync(_ => Task.FromResult(offsets.Lag() == 0), TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(250), cancellationToken);
        var topic = await TopicReader.ReadAsync(fleet.KafkaBootstrapServers, Topic, cancellationToken);
        var atRisk = topic.Where(e => orphaned.Contains(e.Partition) && e.Offset >= committedAtKill[e.Partition] && appliedAtKill.Contains(e.EventId))
            .Select(e => e.EventId).Distinct(StringComparer.Ordinal).Count();
        await using var connection = new NpgsqlConnection(database);
        await connection.OpenAsync(cancellationToken);
        var ledger = (await connection.QueryAsync<(string EventId, long Rows)>(new CommandDefinition(
            "SELECT event_id, count(*) FROM ledger GROUP BY event_id", cancellationToken: cancellationToken))).ToDictionary(row => row.EventId, row => row.Rows, StringComparer.Ordinal);
        var events = topic.Select(e => e.EventId).Distinct(StringComparer.Ordinal).ToList();
        var lost = events.Count(id => !ledger.ContainsKey(id));
        var duplicated = ledger.Values.Sum(rows => Math.Max(0, rows - 1));
        context.Evidence.Add("The payments topic, read by kcat", "audit", TopicReader.Command(fleet.KafkaBootstrapServers, Topic) + " | wc -l",
            topic.Count.ToString(CultureInfo.InvariantCulture));
        await context.Evidence.PsqlAsync("Ledger rows per event (one expected)", "audit",
            "SELECT count(*) AS ledger_rows, count(DISTINCT event_id) AS events, count(*) - count(DISTINCT event_id) AS extra_rows FROM ledger", cancellationToken);
        await context.Evidence.ShellAsync("The redelivered events, as the consumer logged them", "audit",
            $"grep -h '\"FirstDelivery\":false' logs/shop-*.log | wc -l", cancellationToken: cancellationToken);

        var payers = await PaymentAudit.RunAsync(database, records, cancellationToken);
        var load = clock.ToResult();
        var afterTally = clock.Tally(load, stage => stage == FaultClock.After);
        return new FaultOutcome
        {
            Load = load,
            Clock = clock,
            Audited = events.Count,
            Lost = lost,
            Duplicated = duplicated,
            RecoverySeconds = recovery,
            Checks =
            [
                Verdict.EqualTo("events on the topic missing from the ledger", "audit", lost, 0),
                Verdict.EqualTo("ledger rows beyond one per event", "audit", duplicated, 0),
                Verdict.EqualTo("acknowledged payments missing from PostgreSQL", "audit", payers.Lost, 0),
                Verdict.Above("partitions the dead consumer held", "during", orphaned.Count, 0),
                Verdict.Above("events applied but not committed when it died (redelivered)", "during", atRisk, 0),
                Verdict.EqualTo("its partitions consumed again (1 = yes)", "during", resumed ? 1 : 0, 1),
                Verdict.EqualTo("failed attempts once the replacement was in", FaultClock.After, afterTally.Errors, 0),
            ],
            Figures = new Dictionary<string, double>
            {
                ["events_on_topic"] = topic.Count,
                ["distinct_events"] = events.Count,
                ["ledger_rows"] = ledger.Values.Sum(),
                ["orphaned_partitions"] = orphaned.Count,
                ["applied_not_committed_at_kill"] = atRisk,
                ["applied_past_commit_seen_before_kill"] = trigger.Applied,
                ["ms_since_offset_commit_at_kill"] = Math.Round(trigger.SinceCommit.TotalMilliseconds),
                ["payers"] = payers.Audited,
                ["payers_acknowledged"] = payers.Acknowledged,
                ["failed_attempts"] = load.Total.Errors,
            },
            Summary = string.Create(CultureInfo.InvariantCulture,
                $"The consumer died holding {orphaned.Count} partitions with {atRisk} events applied but not committed; {recovery:0.0} s later its partitions were consumed again. Of {events.Count} events on the topic, {lost} are missing from the ledger and {duplicated} were applied twice."),
        };
    }

    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(2) };

    /// <summary>The partitions the replica's consumers own, from its own assignment gauge, once the group has settled.</summary>
    private static async Task<IReadOnlyList<int>> OwnedPartitionsAsync(ServiceProcess replica, CancellationToken cancellationToken)
    {
        IReadOnlyList<int> owned = [];
        var settled = await Waiting.UntilAsync(async token =>
        {
            var text = await Http.GetStringAsync(new Uri(replica.Address, "/metrics"), token);
            owned = [.. AssignmentLine().Matches(text).Select(m => int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)).Distinct().Order()];
            return owned.Count > 0;
        }, TimeSpan.FromSeconds(20), TimeSpan.FromMilliseconds(250), cancellationToken);
        return settled ? owned : throw new InvalidOperationException($"{replica.Name} owned no partition of {Topic} within 20 s");
    }

    /// <summary>
    /// Polls the group's committed offsets (OffsetFetch, from the lab's own client) until those of the
    /// victim's partitions move (a background commit), then, while that commit is under
    /// <see cref="LatestKill"/> old, reads the events past it from the topic and returns as soon as one of
    /// them is in processed_events: applied, not committed. A commit seen too late starts the wait again.
    /// </summary>
    private static async Task<(int Applied, TimeSpan SinceCommit)> WaitForWindowAsync(string database, KafkaOffsets offsets, PartitionTail tail,
        IReadOnlyList<int> owned, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var lastReadAt = Stopwatch.GetTimestamp();
        var last = offsets.Committed();
        long? commitNotBefore = null;
        await using var connection = new NpgsqlConnection(database);
        await connection.OpenAsync(cancellationToken);
        while (Stopwatch.GetElapsedTime(started) < TimeSpan.FromSeconds(30))
        {
            await Task.Delay(TimeSpan.FromMilliseconds(50), cancellationToken);
            var readAt = Stopwatch.GetTimestamp();
            var committed = offsets.Committed();
            if (owned.Any(p => committed[p] > last[p]))
            {
                // The previous reading did not see this commit yet, so it happened after that reading began.
                commitNotBefore = lastReadAt;
                last = committed;
            }

            lastReadAt = readAt;
            if (commitNotBefore is not { } since || Stopwatch.GetElapsedTime(since) > LatestKill)
            {
                commitNotBefore = null;
                continue;
            }

            var high = offsets.HighWatermarks();
            var pending = tail.Read(owned.ToDictionary(p => p, p => committed[p]), high, TimeSpan.FromMilliseconds(500));
            if (pending.Count == 0)
            {
                continue;
            }

            var applied = await connection.ExecuteScalarAsync<int>(new CommandDefinition(
                "SELECT count(*)::int FROM processed_events WHERE event_id = ANY(@Ids)", new { Ids = pending.Select(e => e.EventId).ToArray() },
                cancellationToken: cancellationToken));
            if (applied > 0 && Stopwatch.GetElapsedTime(since) <= LatestKill)
            {
                return (applied, Stopwatch.GetElapsedTime(since));
            }
        }

        throw new InvalidOperationException("no moment with the victim's events applied past its last offset commit was seen within 30 s");
    }

    [GeneratedRegex("""^firedrill_kafka_consumer_assignment\{[^}]*partition="(\d+)"[^}]*\} 1""", RegexOptions.Multiline)]
    private static partial Regex AssignmentLine();

    private static async Task<HashSet<string>> EventIdsAsync(string database, string sql, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(database);
        await connection.OpenAsync(cancellationToken);
        return (await connection.QueryAsync<string>(new CommandDefinition(sql, cancellationToken: cancellationToken))).ToHashSet(StringComparer.Ordinal);
    }
}
