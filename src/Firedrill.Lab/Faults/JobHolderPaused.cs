using System.Globalization;
using System.Net.Http.Json;
using Dapper;
using Firedrill.Lab.Faults.Support;
using Firedrill.Lab.Fleet;
using Firedrill.Lab.Scenarios;
using Npgsql;

namespace Firedrill.Lab.Faults;

/// <summary>
/// Fault 6. The replica running a window of the scheduled job is paused (SIGSTOP) in the middle of
/// its run, past the end of its lease, then let go on (SIGCONT), as a long GC pause or a VM stall
/// does: it wakes up believing it still holds the lock. Meanwhile another replica has taken the
/// window over. The stale holder's reconciliation must be refused by its fencing token (inventory
/// checks it, not the lock), so each window is reconciled exactly once.
/// </summary>
internal sealed class JobHolderPaused : Fault
{
    private const double PaymentsPerSecond = 10;
    private const double ReadsPerSecond = 10;
    private const int Attempts = 3;
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(4);
    private static readonly TimeSpan LockAtMost = TimeSpan.FromSeconds(2);

    // Five stock checks at 200 ms: a run lasts about a second, long enough to be paused in the middle.
    private const int BatchSize = 5;
    private const int InventoryLatencyMs = 200;

    // A run that began in the last 300 ms: paused there, its reconciliation (after five stock checks) is still to come.
    private const string RunningSql =
        """
        SELECT window_start AS "Window", replica_id AS "Replica" FROM job_runs
        WHERE job = 'inventory-sync' AND finished_at IS NULL AND started_at > clock_timestamp() - interval '300 milliseconds'
        ORDER BY started_at DESC LIMIT 1
        """;

    public override int Number => 6;

    public override string Id => "job-holder-paused";

    public override string Title => "The scheduled job's lock holder paused past its lease";

    public override string Promise =>
        "A holder paused past its lease wakes up believing it holds the lock; its write is refused by a fencing token, and each window of the job is effective exactly once (Kleppmann's fencing tokens; ShedLock's lockAtMostFor).";

    public override string Injects => string.Create(CultureInfo.InvariantCulture,
        $"kill -STOP of the replica in the middle of a window's run (the job every {Interval.TotalSeconds:0} s, leases of {LockAtMost.TotalSeconds:0} s, three replicas), kept stopped until another replica has taken the window over and reconciled it, then kill -CONT; payments and catalog reads flow through the gateway.");

    public override string Audits =>
        "Inventory's own record of the reconciliations it took and refused per window (GET /inventory/sync), against the windows the job ran; job_runs for the paused holder's run; the payers' records against the payments table.";

    public override string Recovery => "From the holder's pause to the window's reconciliation by the replica that took it over.";

    public override FleetOptions Fleet(FleetOptions defaults) => PaymentRun.Fleet(defaults, replicas: 3, new Dictionary<string, string>
    {
        ["Jobs:InventorySyncEnabled"] = "true",
        ["Jobs:InventorySyncInterval"] = Interval.ToString("c", CultureInfo.InvariantCulture),
        // Every tick in the window's first 300 ms, held at least that long: one run per window unless its holder stops.
        ["Jobs:InventorySyncJitter"] = "00:00:00.300",
        ["Jobs:LockAtLeast"] = "00:00:00.500",
        ["Jobs:LockAtMost"] = LockAtMost.ToString("c", CultureInfo.InvariantCulture),
        ["Jobs:InventorySyncBatchSize"] = BatchSize.ToString(CultureInfo.InvariantCulture),
    });

    public override async Task<FaultOutcome> RunAsync(ScenarioContext context, CancellationToken cancellationToken)
    {
        var fleet = context.Fleet;
        var before = context.Duration(TimeSpan.FromSeconds(8), TimeSpan.FromSeconds(5));
        var after = context.Duration(TimeSpan.FromSeconds(8), TimeSpan.FromSeconds(5));
        await using var run = await PaymentRun.StartAsync(context, PaymentsPerSecond, ReadsPerSecond, before + after + TimeSpan.FromSeconds(25), cancellationToken);
        var clock = run.Clock;
        await fleet.Inventory.ConfigureAsync($$"""{"Inventory:LatencyMs": {{InventoryLatencyMs}}, "Inventory:LatencyDistribution": "Fixed"}""", cancellationToken);
        clock.KeySignal = "reconciliations refused by inventory (stale token)";
        run.SampleEvery(clock.KeySignal, TimeSpan.FromMilliseconds(500),
            async token => (await WindowsAsync(fleet, token)).Sum(window => window.Refused));
        await Task.Delay(before, cancellationToken);

        await using var database = new NpgsqlConnection(fleet.DatabaseConnection);
        await database.OpenAsync(cancellationToken);
        var (held, holder, pausedAt) = await PauseAHolderAsync(context, database, clock, cancellationToken);
        var window = held.Window;
        bool takenOver;
        double takeover;
        try
        {
            await context.Evidence.PsqlAsync("While the holder is paused: the window's runs and its lease", "during", WindowSql(window), cancellationToken);

            // Stopped until another replica has taken the window over and reconciled it: the stale write must come after it.
            takenOver = await Waiting.UntilAsync(async token => await database.ExecuteScalarAsync<bool>(new CommandDefinition(
                    "SELECT EXISTS (SELECT 1 FROM job_runs WHERE job = 'inventory-sync' AND window_start = @window AND replica_id <> @replica AND finished_at IS NOT NULL)",
                    new { window, replica = held.Replica }, cancellationToken: token)),
                TimeSpan.FromSeconds(15), TimeSpan.FromMilliseconds(50), cancellationToken);
            takeover = clock.Now - pausedAt;
            await context.Evidence.PsqlAsync("Taken over: the window's runs and its lease, now the successor's (a larger fencing token)", "during", WindowSql(window), cancellationToken);
        }
        finally
        {
            clock.Enter("holder resumed");
            await holder.ResumeAsync(CancellationToken.None);
        }

        var pausedSeconds = clock.Now - pausedAt;
        context.Evidence.Add("The fault: the window's holder stopped mid-run, past its lease, then let go on", "during",
            $"kill -STOP {holder.Pid}; sleep {pausedSeconds:0.0}; kill -CONT {holder.Pid}  # {holder.Name}",
            string.Create(CultureInfo.InvariantCulture,
                $"{holder.Name} (pid {holder.Pid}) stopped in its run of the window at {window:HH:mm:ss} UTC for {pausedSeconds:0.0} s (its lease: {LockAtMost.TotalSeconds:0} s); taken over and reconciled by another replica {takeover:0.0} s after the pause"));
        var staleDone = await Waiting.UntilAsync(async token => await database.ExecuteScalarAsync<bool>(new CommandDefinition(
                "SELECT EXISTS (SELECT 1 FROM job_runs WHERE job = 'inventory-sync' AND window_start = @window AND replica_id = @replica AND finished_at IS NOT NULL)",
                new { window, replica = held.Replica }, cancellationToken: token)),
            TimeSpan.FromSeconds(15), TimeSpan.FromMilliseconds(100), cancellationToken);

        var records = await run.FinishAsync(after, cancellationToken);

        var staleStatus = await database.ExecuteScalarAsync<string?>(new CommandDefinition(
            "SELECT status FROM job_runs WHERE job = 'inventory-sync' AND window_start = @window AND replica_id = @replica",
            new { window, replica = held.Replica }, cancellationToken: cancellationToken));
        var windows = await WindowsAsync(fleet, cancellationToken);
        var paused = windows.SingleOrDefault(w => w.Window.UtcDateTime == window);
        var reconciled = windows.Where(w => w.Calls > 0).Select(w => w.Window.UtcDateTime).ToList();
        var span = reconciled.Count == 0 ? [] : Enumerable.Range(0, (int)((reconciled.Max() - reconciled.Min()) / Interval) + 1)
            .Select(i => reconciled.Min() + i * Interval).ToList();
        var lost = span.Count(w => !reconciled.Contains(w));
        var duplicated = windows.Sum(w => Math.Max(0, w.Calls - 1));
        var inventory = fleet.Inventory.Address.ToString().TrimEnd('/');
        await context.Evidence.ShellAsync("Inventory's record of the paused window: taken once, the stale holder refused", "audit",
            $"curl -s {inventory}/inventory/sync | grep -o '{{[^}}]*\"{window:yyyy-MM-ddTHH:mm:ss}[^}}]*}}'; curl -s {inventory}/metrics | grep -E '^firedrill_inventory_sync'",
            cancellationToken: cancellationToken);
        await context.Evidence.PsqlAsync("The paused window's runs after the holder woke up", "audit", WindowSql(window), cancellationToken);
        await context.Evidence.ShellAsync("The stale holder's own log: its reconciliation refused", "audit",
            $"grep -h 'fencing token' {fleet.Logs}/{holder.Name}*.log | tail -n 2", cancellationToken: cancellationToken);

        var payers = await PaymentAudit.RunAsync(fleet.DatabaseConnection, records, cancellationToken);
        var alive = !holder.HasExited && await Probes.IsReadyAsync(holder.Address, cancellationToken);
        var load = clock.ToResult();
        return new FaultOutcome
        {
            Load = load,
            Clock = clock,
            Audited = span.Count,
            Lost = lost,
            Duplicated = duplicated,
            RecoverySeconds = Math.Round(takeover, 1),
            Checks =
            [
                Verdict.EqualTo("window taken over while its holder was paused (1 = yes)", "during", takenOver ? 1 : 0, 1),
                Verdict.EqualTo("stale holder's run ended after it woke (1 = yes)", "during", staleDone ? 1 : 0, 1),
                Verdict.Above("stale holder's reconciliations refused by inventory (the fence held)", "audit", paused?.Refused ?? 0, 0),
                Verdict.EqualTo("reconciliations inventory took for the paused window", "audit", paused?.Calls ?? 0, 1),
                Verdict.EqualTo("stale holder's run recorded as fenced (1 = yes)", "audit", staleStatus == "fenced" ? 1 : 0, 1),
                Verdict.EqualTo("windows reconciled more than once", "audit", duplicated, 0),
                Verdict.EqualTo("windows never reconciled", "audit", lost, 0),
                Verdict.EqualTo("paused replica dead or not ready afterwards", FaultClock.After, alive ? 0 : 1, 0),
                payers.NoneLost,
                payers.NoneChargedTwice,
            ],
            Figures = payers.WithPayers(new Dictionary<string, double>
            {
                ["paused_seconds"] = Math.Round(pausedSeconds, 1),
                ["takeover_seconds"] = Math.Round(takeover, 1),
                ["windows"] = span.Count,
                ["windows_lost"] = lost,
                ["reconciliations_repeated"] = duplicated,
                ["reconciliations_refused"] = windows.Sum(w => w.Refused),
            }, load),
            Summary = string.Create(CultureInfo.InvariantCulture,
                $"{holder.Name} was stopped mid-run for {pausedSeconds:0.0} s (lease {LockAtMost.TotalSeconds:0} s); another replica took the window over and reconciled it {takeover:0.0} s after the pause; the stale holder's reconciliation was refused {paused?.Refused ?? 0} time(s) by its fencing token. {span.Count} windows: {lost} never reconciled, {duplicated} reconciled twice."),
        };
    }

    /// <summary>Waits for a window's run to start and stops its replica before the run ends; tries up to <see cref="Attempts"/> windows.</summary>
    private static async Task<((DateTime Window, string Replica) Held, ServiceProcess Holder, double PausedAt)> PauseAHolderAsync(
        ScenarioContext context, NpgsqlConnection database, FaultClock clock, CancellationToken cancellationToken)
    {
        for (var attempt = 1; attempt <= Attempts; attempt++)
        {
            (DateTime Window, string Replica)? running = null;
            var found = await Waiting.UntilAsync(async token => (running = await database.QuerySingleOrDefaultAsync<(DateTime, string)?>(
                    new CommandDefinition(RunningSql, cancellationToken: token))) is not null,
                Interval * 2, TimeSpan.FromMilliseconds(20), cancellationToken);
            if (!found || running is not { } held)
            {
                continue;
            }

            var holder = context.Fleet.Shops.Single(shop => shop.Name == held.Replica);
            await holder.PauseAsync(cancellationToken);
            var pausedAt = clock.Enter("holder paused");
            var stillRunning = await database.ExecuteScalarAsync<bool>(new CommandDefinition(
                "SELECT EXISTS (SELECT 1 FROM job_runs WHERE job = 'inventory-sync' AND window_start = @Window AND replica_id = @Replica AND finished_at IS NULL)",
                new { held.Window, held.Replica }, cancellationToken: cancellationToken));
            // Its reconciliation must still be to come: one that reached inventory before the pause was made under a live
            // lease, and is rightly taken; a successor would then reconcile the window a second time (see the fault's doc).
            var window = DateTime.SpecifyKind(held.Window, DateTimeKind.Utc);
            var reachedInventory = (await WindowsAsync(context.Fleet, cancellationToken)).Any(w => w.Window.UtcDateTime == window);
            if (stillRunning && !reachedInventory)
            {
                return ((window, held.Replica), holder, pausedAt);
            }

            // Its run, or its write, ended before the signal landed: let it go on and catch the next window's holder.
            await holder.ResumeAsync(cancellationToken);
            clock.Enter(FaultClock.Before);
        }

        throw new InvalidOperationException($"no window's run was caught in the middle in {Attempts} tries: is the job enabled and inventory slow enough?");
    }

    private static string WindowSql(DateTime window) => string.Create(CultureInfo.InvariantCulture,
        $"""
        SELECT r.replica_id, r.status, to_char(r.started_at, 'HH24:MI:SS.MS') AS started, to_char(r.finished_at, 'HH24:MI:SS.MS') AS finished, r.detail,
               l.locked_by AS lease_holder, l.token AS lease_token, to_char(l.lock_until, 'HH24:MI:SS.MS') AS lease_until
        FROM job_runs r LEFT JOIN job_locks l ON l.name = 'inventory-sync:{window:O}'
        WHERE r.job = 'inventory-sync' AND r.window_start = timestamptz '{window:yyyy-MM-dd HH:mm:ss}+00' ORDER BY r.started_at
        """);

    private static async Task<IReadOnlyList<SyncWindow>> WindowsAsync(LabFleet fleet, CancellationToken cancellationToken) =>
        await fleet.Inventory.Client.GetFromJsonAsync<List<SyncWindow>>("/inventory/sync", System.Text.Json.JsonSerializerOptions.Web, cancellationToken) ?? [];

    /// <summary>Inventory's record of one window (GET /inventory/sync).</summary>
    private sealed record SyncWindow(DateTimeOffset Window, int Calls, IReadOnlyList<string> Replicas, int Refused, IReadOnlyList<string> RefusedReplicas);
}
