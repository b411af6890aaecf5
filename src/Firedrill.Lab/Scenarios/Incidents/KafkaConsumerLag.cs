using Firedrill.Lab.Fleet;
using Firedrill.Lab.Load;

namespace Firedrill.Lab.Scenarios.Incidents;

/// <summary>
/// SCENARIOS.md #2. Payments arrive at a steady rate through the gateway; each commits an event to
/// the outbox, the relay publishes it, and the <c>ledger</c> group applies it. The ledger's handler
/// checks inventory for every event, and inventory turns slow (an environment fault): with the
/// variant's defect the group's capacity falls below the production rate and lag grows; with the
/// fix (key-ordered bounded parallelism, batched commits, a key that spreads, consumers ≤
/// partitions) it drains. Lag is read from outside the group, as an operator reads it.
/// </summary>
internal sealed partial class KafkaConsumerLag : Scenario<KafkaConsumerLag.Cause>
{
    /// <summary>
    /// A variant: the fleet as shipped (its settings carry the defect), or the defect deployed as the
    /// broken phase begins; the production rate, the inventory latency of the broken and fixed phases,
    /// the fix, and the runbook's cause and fix.
    /// </summary>
    internal sealed record Cause(
        string Name,
        string Summary,
        int Replicas,
        double Rate,
        int LatencyMs,
        IReadOnlyDictionary<string, string> Shipped,
        string? Deployed,
        string Fix,
        int Burst,
        TimeSpan QuickBroken,
        TimeSpan QuickFixed,
        string RootCause,
        string FixText) : ScenarioVariant(Name, Summary);

    internal const string Group = "ledger";
    internal const string Topic = "payments";
    private const string SequentialFix = """{"Kafka:HandlerParallelism": 16, "Kafka:ApplyBatchSize": 64, "Kafka:CommitEveryMessage": false}""";

    public override string Id => "kafka-consumer-lag";

    public override string Title => "Consumers running, lag keeps growing";

    protected override IReadOnlyList<Cause> TypedVariants { get; } =
    [
        new("slow-handler", "each event waits for a blocking inventory call, one at a time, and commits on its own", 2, 40, 80,
            new Dictionary<string, string> { ["Kafka:HandlerParallelism"] = "1", ["Kafka:ApplyBatchSize"] = "1", ["Kafka:CommitEveryMessage"] = "true" },
            null, SequentialFix, 0, TimeSpan.FromSeconds(7), TimeSpan.FromSeconds(8),
            "The ledger handler makes one blocking inventory call per event and handles one event at a time (Kafka:HandlerParallelism=1, LedgerHandler.CheckInventorySequentiallyAsync), "
            + "applying and committing every message on its own (Kafka:ApplyBatchSize=1, Kafka:CommitEveryMessage=true). A consumer's capacity is one event per inventory round trip: "
            + "with inventory at 80 ms, two consumers manage about 23 events/s against 40 produced.",
            "Bounded parallelism that keeps per-key order (LedgerHandler.CheckInventoryInParallelByKeyAsync, Kafka:HandlerParallelism=16): events of one order in sequence, different orders side by side; "
            + "batches applied in one statement and offsets committed in the background (Kafka:ApplyBatchSize=64, Kafka:CommitInterval); batch size × latency ÷ parallelism stays well under a second. The apply stays idempotent (processed_events), so a redelivery is harmless."),
        new("hot-partition", "a release keys every event by currency: one key, one partition, one consumer, one event at a time", 2, 40, 50,
            new Dictionary<string, string>(),
            // Deployed as the broken phase begins: the baseline shows how the correct key spreads the same payments.
            """{"Kafka:PaymentsKey": "Currency"}""",
            """{"Kafka:PaymentsKey": "Order"}""", 0, TimeSpan.FromSeconds(2.5), TimeSpan.FromSeconds(12),
            "A release keyed payment events by currency (Kafka:PaymentsKey=Currency, Outbox.MessageKey) and every payment is in EUR: one key, so one partition takes every new event, "
            + "one consumer owns it while the other idles, and the handler's per-key order puts every event behind the previous one: one inventory call at a time, "
            + "at most 20 events/s at 50 ms (fewer on a busy machine) against 40 produced: the consumers manage half of the production.",
            "Key by the entity whose order matters, the order (Kafka:PaymentsKey=Order, the default): new events spread over every partition and every key, so every consumer works "
            + "and the handler's parallelism applies. What the hot key already queued drains at that key's pace, one event per inventory call: keep the time a bad key is live short."),
        new("idle-consumers", "six consumers for four partitions: two own nothing, and one event at a time per consumer is not enough", 2, 60, 80,
            // A 3 s session (heartbeats every 0.75 s): members hear of a rebalance, and rejoin, within a second.
            new Dictionary<string, string> { ["Kafka:ConsumersPerReplica"] = "3", ["Kafka:HandlerParallelism"] = "1", ["Kafka:SessionTimeout"] = "00:00:03" },
            null, """{"Kafka:ConsumersPerReplica": 2, "Kafka:HandlerParallelism": 16}""", 0, TimeSpan.FromSeconds(7), TimeSpan.FromSeconds(9),
            "Consumers were added to catch up: three per replica (Kafka:ConsumersPerReplica=3), six in the group, but the topic has four partitions and a partition belongs to one member, "
            + "so two consumers own nothing (firedrill_kafka_consumer_assigned_partitions 0) and the four that work still handle one event at a time "
            + "(Kafka:HandlerParallelism=1, LedgerHandler.CheckInventorySequentiallyAsync): at 80 ms per inventory call, about 47 events/s against 60 produced.",
            "Consumers ≤ partitions (Kafka:ConsumersPerReplica=2: four members for four partitions; more partitions if more members are really needed), "
            + "and capacity from within each consumer: key-ordered bounded parallelism (Kafka:HandlerParallelism=16, LedgerHandler.CheckInventoryInParallelByKeyAsync)."),
        new("rebalance-storm", "after a burst, a batch takes longer than max.poll.interval.ms: members leave, the group rebalances again and again, events are redelivered", 2, 30, 100,
            new Dictionary<string, string>
            {
                ["Kafka:HandlerParallelism"] = "1", ["Kafka:ApplyBatchSize"] = "40",
                ["Kafka:SessionTimeout"] = "00:00:03", ["Kafka:MaxPollInterval"] = "00:00:03",
            },
            // 10 s broken: after the burst a batch runs 4 s (5 s on a busy machine) before its member learns it left; the storm must show inside the phase.
            // 8 s fixed at 30/s: the storm leaves ≈ 500 events behind; the members that left have rejoined before the phase
            // (WaitForGroupAsync), and a whole group drains them in a few seconds.
            null, """{"Kafka:HandlerParallelism": 16}""", 200, TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(8),
            "A batch of up to 40 events handled one at a time (Kafka:HandlerParallelism=1) at 100 ms per inventory call takes 4 s, longer than max.poll.interval.ms (Kafka:MaxPollInterval, 3 s): "
            + "librdkafka makes the consumer leave the group, its partitions move, its offsets cannot be stored any more, and the next owner reads the same events again. Every member does it in turn.",
            "A handler well inside max.poll.interval.ms: key-ordered bounded parallelism (Kafka:HandlerParallelism=16) brings a batch to about 0.3 s; batch size × latency ÷ parallelism is the budget to keep "
            + "below the interval. The apply is idempotent (processed_events), so the redeliveries changed nothing."),
    ];

    public override SignalQuery KeySignal => new(
        "consumer lag (messages)", "sum(max by (partition) (firedrill_kafka_consumer_lag))",
        "Messages on the payments topic the ledger group has not committed, all partitions.");

    public override IReadOnlyList<SignalQuery> ChartSignals =>
    [
        new("events produced per second", "sum(rate(firedrill_outbox_published_total[5s])) or vector(0)", "Events the outbox relay published."),
        new("events consumed per second", "sum(rate(firedrill_kafka_consumer_messages_total[5s])) or vector(0)", "Messages the ledger consumers handled (redeliveries included)."),
    ];

    public override Runbook Runbook => new(
        "Payments are accepted, the consumers are up and busy, yet the ledger falls further behind every minute: consumer lag keeps growing.",
        [
            new("Lag, worst partition (messages)", "max(firedrill_kafka_consumer_lag)",
                "Committed offsets against log-end offsets. Break it down with max by (partition): one partition (a hot key) or all of them (not enough capacity)."),
            new("Lag, worst partition (seconds)", "max(firedrill_kafka_consumer_lag_seconds)", "How old the oldest unapplied event is: what the ledger's readers feel."),
            new("Consumed ÷ produced", "sum(rate(firedrill_kafka_consumer_messages_total[10s])) / sum(rate(firedrill_outbox_published_total[10s]))",
                "Below 1 the backlog grows whatever the consumers say about their health."),
            new("Processing time per event (p95, s)", "histogram_quantile(0.95, sum by (le) (rate(firedrill_ledger_handle_duration_seconds_bucket[10s])))",
                "The handler's downstream call per event: capacity per consumer is parallelism ÷ this."),
            new("Events on the busiest partition (share)",
                "max(sum by (partition) (rate(firedrill_outbox_published_total[10s]))) / sum(rate(firedrill_outbox_published_total[10s]))",
                "About 1/4 with four partitions; near 1 means one key takes everything."),
            new("Consumers with no partition", "count(firedrill_kafka_consumer_assigned_partitions == 0) or vector(0)",
                "Members of the group that own nothing: more consumers than partitions."),
            new("Rebalances", "sum(increase(firedrill_kafka_consumer_rebalances_total[10s])) or vector(0)",
                "Assignments received; with poll timeouts (firedrill_kafka_consumer_poll_timeouts_total) a handler slower than max.poll.interval.ms."),
        ],
        Chosen.RootCause,
        Chosen.FixText);

    public override FleetOptions Fleet(FleetOptions defaults)
    {
        var settings = new Dictionary<string, string>(defaults.ShopSettings)
        {
            // The ledger's handler checks inventory for every event; inventory's latency is the fault.
            ["Kafka:DownstreamCallPerMessage"] = "true",
            // With a downstream call per event, a batch lasts batch size × latency ÷ parallelism: 64 keeps
            // it well under a second (the default 500 suits a handler that only writes to the database).
            ["Kafka:ApplyBatchSize"] = "64",
            // Published within 50 ms of the payment, committed within 100 ms of being applied: what remains of
            // the lag when the group keeps up is the handler's own time.
            ["Kafka:RelayInterval"] = "00:00:00.050",
            ["Kafka:CommitInterval"] = "00:00:00.100",
            ["Jobs:InventorySyncEnabled"] = "false",
        };
        foreach (var (key, value) in Chosen.Shipped)
        {
            settings[key] = value;
        }

        return defaults with { Replicas = Chosen.Replicas, ShopSettings = settings };
    }

    private TimeSpan PhaseDuration(ScenarioContext context, string phase) => phase switch
    {
        Phases.Baseline => context.Duration(TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(3)),
        Phases.Broken => context.Quick ? Chosen.QuickBroken : Chosen.QuickBroken * 2.5,
        _ => context.Quick ? Chosen.QuickFixed : Chosen.QuickFixed * 2,
    };

    public override async Task ApplyAsync(ScenarioContext context, string phase, CancellationToken cancellationToken)
    {
        await context.Fleet.Inventory.ConfigureAsync(phase == Phases.Baseline
            ? """{"Inventory:LatencyMs": 0}"""
            : $$"""{"Inventory:LatencyMs": {{Chosen.LatencyMs}}, "Inventory:LatencyDistribution": "Fixed"}""", cancellationToken);
        if (phase == Phases.Broken && Chosen.Deployed is { } deployed)
        {
            await context.Fleet.ConfigureShopsAsync(deployed, cancellationToken);
        }

        if (phase == Phases.Broken && Chosen.Burst > 0)
        {
            // A burst of payments (a traffic burst, SCENARIOS.md's environment fault) as the phase begins:
            // the consumers start it with a backlog, so every batch they read is a full one.
            await BurstAsync(context, Chosen.Burst, cancellationToken);
        }

        if (phase != Phases.Fixed)
        {
            return;
        }

        await context.Fleet.ConfigureShopsAsync(Chosen.Fix, cancellationToken);
        if (Chosen.Name is "idle-consumers" or "rebalance-storm")
        {
            // Rebalances: fewer members (idle-consumers), or members that left in the storm still rejoining (rebalance-storm:
            // once on a slower machine, 8 s of rebalances every 2 s before the last one had its partitions back). The
            // rollout is done once the group owns every partition again.
            context.Items[GroupWaitKey] = await WaitForGroupAsync(context, cancellationToken);
        }
    }

    public override IReadOnlyList<CheckResult> Check(IReadOnlyDictionary<string, PhaseResult> phases)
    {
        var broken = phases[Phases.Broken].Signals;
        var fix = phases[Phases.Fixed].Signals;
        var checks = new List<CheckResult>
        {
            Verdict.Above("lag slope (messages/s)", Phases.Broken, broken["lag_slope_per_s"], 0),
            Verdict.AtMost("lag at the end (messages)", Phases.Fixed, fix["lag_end"], Chosen.Rate),
            Verdict.Above("events on the topic", Phases.Fixed, fix["events_on_topic"], 0),
            Verdict.EqualTo("accepted payments with no event on the topic", Phases.Fixed, fix["payments_not_on_topic"], 0),
            Verdict.EqualTo("events on the topic missing from the ledger", Phases.Fixed, fix["events_not_applied"], 0),
            Verdict.EqualTo("events applied more than once", Phases.Fixed, fix["events_applied_twice"], 0),
            Verdict.EqualTo("ledger rows with no event on the topic", Phases.Fixed, fix["ledger_rows_not_on_topic"], 0),
        };
        switch (Chosen.Name)
        {
            case "hot-partition":
                // The topic's log-end offsets over the phase: where the events produced since its settings changed went.
                checks.Add(Verdict.AtLeast("new events on the busiest partition (share)", Phases.Broken, broken["busiest_partition_share"], 0.45));
                checks.Add(Verdict.AtMost("new events on the busiest partition (share)", Phases.Fixed, fix["busiest_partition_share"], 0.7));
                break;
            case "idle-consumers":
                checks.Add(Verdict.AtLeast("consumers with no partition", Phases.Broken, broken["consumers_without_partitions"], 1));
                checks.Add(Verdict.EqualTo("consumers with no partition", Phases.Fixed, fix["consumers_without_partitions"], 0));
                break;
            case "rebalance-storm":
                checks.Add(Verdict.Above("consumers that left the group (max.poll.interval.ms exceeded)", Phases.Broken, broken["poll_timeouts"], 0));
                checks.Add(Verdict.Above("rebalances", Phases.Broken, broken["rebalances"], 0));
                // The storm's redeliveries arrive once the members are back, in the broken phase or after the fix: counted from the
                // broken phase's start to the end, when the exactly-once checks show every one of them absorbed, none applied twice.
                checks.Add(Verdict.Above("events redelivered and absorbed by the idempotent apply", Phases.Fixed, fix["events_redelivered_since_broken"], 0));
                break;
        }

        return checks;
    }
}
