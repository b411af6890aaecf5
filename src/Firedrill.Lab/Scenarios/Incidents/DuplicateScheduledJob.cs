using Firedrill.Lab.Fleet;
using Firedrill.Lab.Load;

namespace Firedrill.Lab.Scenarios.Incidents;

/// <summary>
/// SCENARIOS.md #6. Three replicas run the same schedule ("inventory sync": compare stock, then send
/// inventory the window's reconciliation, which makes it re-count). Each replica ticks at a random
/// point early in each window. Without a lock every replica runs every window; with a lock that a
/// fast run releases at once, the replicas whose tick comes later run the window again; with a lock
/// row that never expires, a holder killed mid-run blocks every later window. The fix is a lease
/// per window (lock-at-most) held at least to the window's last tick (lock-at-least); the lab
/// kills the holder mid-run in the fixed phase too. Runs are counted in <c>job_runs</c> and, outside
/// the shop, by inventory per window.
/// </summary>
internal sealed partial class DuplicateScheduledJob : Scenario<DuplicateScheduledJob.Cause>
{
    /// <summary>A variant: the job's lock as shipped, whether the lab kills the holder in the broken phase, inventory's latency then, and the cause.</summary>
    internal sealed record Cause(string Name, string Summary, string Broken, bool KillInBroken, int BrokenLatencyMs, string RootCause) : ScenarioVariant(Name, Summary);

    internal static readonly TimeSpan Interval = TimeSpan.FromSeconds(3);
        private const int Replicas = 3;
    // Inventory's latency per stock check: a run (5 checks) lasts long enough to be killed mid-run.
    private const int RunLatencyMs = 60;
    private const string Fix = """{"Jobs:Lock": "Lease", "Jobs:LockAtLeast": "00:00:03", "Jobs:LockAtMost": "00:00:15"}""";

    public override string Id => "duplicate-scheduled-job";

    public override string Title => "The job runs several times after scaling";

    protected override IReadOnlyList<Cause> TypedVariants { get; } =
    [
        new("no-lock", "no lock: each of the three replicas runs every window", """{"Jobs:Lock": "None"}""", false, RunLatencyMs,
            "The job has no coordination (Jobs:Lock=None, InventorySyncJob.RunWindowAsync runs ExecuteWindowAsync directly): written for one instance, it runs in every replica, "
            + "so after scaling to three each window's reconciliation reaches inventory three times."),
        new("lock-released-early", "a lock with lock-at-most but no lock-at-least: a fast run frees the window for the replicas whose tick comes later",
            """{"Jobs:Lock": "Lease", "Jobs:LockAtLeast": "00:00:00"}""", false, 0,
            "The window's lock has a lease (lock-at-most) but no lock-at-least (Jobs:LockAtLeast=00:00:00, JobLocks.ReleaseAsync): a run takes a few tens of milliseconds and frees the lock as it ends, "
            + "while the replicas' ticks are spread over the first 2.5 s of the window (Jobs:InventorySyncJitter). A replica whose tick comes after the first run ended finds the lock free and runs the window again."),
        new("lease-never-expires", "a lock row with no expiry: the holder is killed mid-run and every later window is skipped",
            """{"Jobs:Lock": "RowWithoutExpiry"}""", true, RunLatencyMs,
            "The job's lock is one row with no expiry (Jobs:Lock=RowWithoutExpiry, JobLocks.TryTakeRowWithoutExpiryAsync), deleted by its holder when the run ends. "
            + "The holder was killed mid-run (SIGKILL, as an OOM kill or a node loss does): the row stays forever, every replica's tick finds the lock held, and no window runs again."),
    ];

    public override SignalQuery KeySignal => new(
        "reconciliations per window (at inventory)", $"sum(increase(firedrill_inventory_sync_requests_total[{3 * Interval.TotalSeconds}s])) / 3",
        "Reconciliations inventory received per window of the schedule, over the last three windows: 1 is right, 3 is every replica, 0 is a stuck lock.");

    public override IReadOnlyList<SignalQuery> ChartSignals =>
    [
        new("executions per window (job_runs counter)", $"sum(increase(firedrill_job_executions_total[{3 * Interval.TotalSeconds}s])) / 3", "Runs the replicas started, per window, over the last three windows."),
    ];

    public override Runbook Runbook => new(
        "Inventory reports each reconciliation two or three times since the shop was scaled out (or, after a crash, none at all): the scheduled job runs once per replica, or never.",
        [
            new("Job executions per second, all replicas", "sum(rate(firedrill_job_executions_total[10s])) or vector(0)",
                "Times the interval should be 1; break it down by service to see which replicas run it."),
            new("Reconciliations received by inventory per second", "sum(rate(firedrill_inventory_sync_requests_total[10s])) or vector(0)",
                "The side effect, counted outside the shop."),
            new("Repeated reconciliations at inventory", "sum(increase(firedrill_inventory_sync_repeats_total[10s])) or vector(0)",
                "Reconciliations for a window already reconciled: work done twice."),
            new("Ticks that found the lock held", "sum(increase(firedrill_job_lock_busy_total[10s])) or vector(0)",
                "Every tick finding it held while nothing runs is a lock nobody will release."),
        ],
        Chosen.RootCause,
        "One run per window under a lease (Jobs:Lock=Lease, InventorySyncJob.RunUnderLeaseAsync, the job_locks table, ShedLock's design): the window is the lock's name; "
        + "lock-at-most (Jobs:LockAtMost) bounds how long a dead holder keeps it, lock-at-least (Jobs:LockAtLeast ≥ the ticks' spread) keeps it held past a fast run, and the next window, "
        + "a name of its own, never waits for a dead holder. On Kubernetes the same job is a CronJob with concurrencyPolicy: Forbid (one Job at a time, none started while one runs) "
        + "and startingDeadlineSeconds, instead of a schedule inside every replica.");

    public override FleetOptions Fleet(FleetOptions defaults) => defaults with
    {
        Replicas = Replicas,
        ShopSettings = new Dictionary<string, string>(defaults.ShopSettings)
        {
            ["Jobs:InventorySyncInterval"] = "00:00:03",
            ["Jobs:InventorySyncJitter"] = "00:00:02.500",
            ["Jobs:InventorySyncBatchSize"] = "5",
            ["Jobs:LockAtLeast"] = "00:00:03",
            ["Jobs:LockAtMost"] = "00:00:15",
            // The reconciliation must get through a busy inventory rather than time out: a lost one is not the lock's doing.
            ["InventoryClient:AttemptTimeout"] = "00:00:02",
            ["InventoryClient:TotalTimeout"] = "00:00:05",
            ["Kafka:ConsumerEnabled"] = "false",
        },
    };

    /// <summary>A short look at the catalog: the phases' load is light background traffic, the job is what is measured.</summary>
    public override async Task WarmUpAsync(ScenarioContext context, CancellationToken cancellationToken) =>
        await BrowseAsync(context, TimeSpan.FromSeconds(2), cancellationToken);

    public override async Task ApplyAsync(ScenarioContext context, string phase, CancellationToken cancellationToken)
    {
        await context.Fleet.Inventory.ConfigureAsync(
            $$"""{"Inventory:LatencyMs": {{(phase == Phases.Broken ? Chosen.BrokenLatencyMs : RunLatencyMs)}}, "Inventory:LatencyDistribution": "Fixed"}""", cancellationToken);
        await context.Fleet.ConfigureShopsAsync(phase == Phases.Broken ? Chosen.Broken : Fix, cancellationToken);
    }

    public override IReadOnlyList<CheckResult> Check(IReadOnlyDictionary<string, PhaseResult> phases)
    {
        var broken = phases[Phases.Broken].Signals;
        var fix = phases[Phases.Fixed].Signals;
        var checks = new List<CheckResult>();
        if (Chosen.KillInBroken)
        {
            checks.Add(Verdict.EqualTo("holders killed mid-run", Phases.Broken, broken["holders_killed"], 1));
            checks.Add(Verdict.AtLeast("windows skipped after the kill (share)", Phases.Broken, broken["skipped_after_kill_share"], 0.4));
            checks.Add(Verdict.AtLeast("windows inventory got no reconciliation for after the kill (share)", Phases.Broken, broken["unreconciled_after_kill_share"], 0.4));
        }
        else
        {
            checks.Add(Verdict.AtLeast("windows run more than once (share)", Phases.Broken, broken["duplicated_share"], 0.4));
            checks.Add(Verdict.AtLeast("windows reconciled more than once at inventory (share)", Phases.Broken, broken["reconciled_twice_share"], 0.4));
        }

        checks.Add(Verdict.EqualTo("holders killed mid-run", Phases.Fixed, fix["holders_killed"], 1));
        checks.Add(Verdict.Above("windows after the kill", Phases.Fixed, fix["windows_after_kill"], 0));
        checks.Add(Verdict.EqualTo("windows not run exactly once", Phases.Fixed, fix["windows_not_run_once"], 0));
        checks.Add(Verdict.EqualTo("windows reconciled more than once at inventory", Phases.Fixed, fix["windows_reconciled_twice"], 0));
        checks.Add(Verdict.EqualTo("windows after the kill with no reconciliation at inventory", Phases.Fixed, fix["unreconciled_after_kill"], 0));
        return checks;
    }

    private static async Task<LoadResult> BrowseAsync(ScenarioContext context, TimeSpan duration, CancellationToken cancellationToken)
    {
        using var client = context.GatewayClient(TimeSpan.FromSeconds(5));
        return await new LoadGenerator(client, context.Time).RunAsync(new LoadProfile
        {
            Model = LoadModel.Open,
            RatePerSecond = 10,
            Duration = duration,
            RequestTimeout = TimeSpan.FromSeconds(5),
            Mix = [new RequestTemplate("catalog", 1, sequence => new HttpRequestMessage(HttpMethod.Get, $"/api/products/{1 + sequence * 7919 % 1000}"))],
        }, context.Progress, cancellationToken);
    }
}
