using System.Globalization;
using System.Net.Http.Json;
using Dapper;
using Npgsql;

namespace Firedrill.Lab.Scenarios.Incidents;

/// <summary>Each phase: light traffic, the holder killed mid-run where the phase calls for it, then every window counted twice — in job_runs and at inventory.</summary>
internal sealed partial class DuplicateScheduledJob
{
    private sealed record Kill(string Replica, int Pid, DateTime Window);

    private sealed record InventoryWindow(DateTimeOffset Window, int Calls, IReadOnlyList<string> Replicas);

    public override async Task<PhaseRun> DriveAsync(ScenarioContext context, string phase, CancellationToken cancellationToken)
    {
        var duration = phase == Phases.Baseline
            ? context.Duration(TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(4))
            : context.Duration(TimeSpan.FromSeconds(21), TimeSpan.FromSeconds(10));
        var started = context.Time.GetUtcNow().UtcDateTime;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var kill = phase == Phases.Fixed || (phase == Phases.Broken && Chosen.KillInBroken)
            ? KillHolderMidRunAsync(context, phase, started, stop.Token)
            : Task.FromResult<Kill?>(null);
        var load = await BrowseAsync(context, duration, cancellationToken);
        await stop.CancelAsync();
        var killed = await kill;
        var ended = context.Time.GetUtcNow().UtcDateTime;

        // Whole windows only: opened after the phase's settings were in place, and closed (every tick and run done) before it ended.
        var first = Ceiling(started);
        var last = Floor(ended - Interval);
        var runs = await RunsPerWindowAsync(context, first, last, cancellationToken);
        var inventory = await InventoryWindowsAsync(context, cancellationToken);
        var calls = runs.Keys.ToDictionary(window => window, window => inventory.FirstOrDefault(w => w.Window.UtcDateTime == window)?.Calls ?? 0);
        var afterKill = killed is null ? [] : runs.Keys.Where(window => window > killed.Window).ToList();
        var signals = new Dictionary<string, double>
        {
            ["windows"] = runs.Count,
            ["runs_per_window"] = runs.Count == 0 ? 0 : Math.Round(runs.Values.Average(), 2),
            ["duplicated_share"] = Share(runs.Values.Count(n => n > 1), runs.Count),
            ["windows_skipped"] = runs.Values.Count(n => n == 0),
            ["windows_not_run_once"] = runs.Values.Count(n => n != 1),
            ["reconciliations_per_window"] = calls.Count == 0 ? 0 : Math.Round(calls.Values.Average(), 2),
            ["reconciled_twice_share"] = Share(calls.Values.Count(n => n > 1), calls.Count),
            ["windows_reconciled_twice"] = calls.Values.Count(n => n > 1),
            ["holders_killed"] = killed is null ? 0 : 1,
            ["windows_after_kill"] = afterKill.Count,
            ["skipped_after_kill_share"] = Share(afterKill.Count(window => runs[window] == 0), afterKill.Count),
            ["unreconciled_after_kill"] = afterKill.Count(window => calls[window] == 0),
            ["unreconciled_after_kill_share"] = Share(afterKill.Count(window => calls[window] == 0), afterKill.Count),
        };
        if (phase != Phases.Baseline)
        {
            await CaptureAsync(context, phase, first, last, cancellationToken);
        }

        return new PhaseRun(load, signals);
    }

    /// <summary>
    /// Waits for a run of this phase to be under way and SIGKILLs the replica running it, as an OOM
    /// kill or a lost node would: no shutdown, no finally, no lock released.
    /// </summary>
    private static async Task<Kill?> KillHolderMidRunAsync(ScenarioContext context, string phase, DateTime since, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(context.Fleet.DatabaseConnection);
        await connection.OpenAsync(cancellationToken);
        try
        {
            while (true)
            {
                var running = await connection.QueryFirstOrDefaultAsync<(string Replica, DateTime Window)?>(new CommandDefinition(
                    """
                    SELECT replica_id, window_start FROM job_runs
                    WHERE job = 'inventory-sync' AND status = 'running' AND window_start >= @since ORDER BY id LIMIT 1
                    """, new { since }, cancellationToken: cancellationToken));
                var shop = running is { } run ? context.Fleet.Shops.FirstOrDefault(s => s.Name == run.Replica && !s.HasExited) : null;
                if (shop is not null)
                {
                    var pid = shop.Pid;
                    await context.Fleet.KillReplicaAsync(shop.Name);
                    var window = running!.Value.Window;
                    context.Evidence.Add($"The holder killed mid-run: {shop.Name} while it ran the window at {window:HH:mm:ss}", phase,
                        $"kill -9 {pid}",
                        $"{shop.Name} (pid {pid}) was running the window at {window:HH:mm:ss.fff} (job_runs status 'running') and was killed with SIGKILL at {context.Time.GetUtcNow():HH:mm:ss.fff}.");
                    return new Kill(shop.Name, pid, DateTime.SpecifyKind(window, DateTimeKind.Utc));
                }

                await Task.Delay(TimeSpan.FromMilliseconds(20), context.Time, cancellationToken);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return null;
        }
    }

    /// <summary>Runs per window from <c>job_runs</c>, windows with none included.</summary>
    private static async Task<SortedDictionary<DateTime, int>> RunsPerWindowAsync(ScenarioContext context, DateTime first, DateTime last, CancellationToken cancellationToken)
    {
        var windows = new SortedDictionary<DateTime, int>();
        if (last < first)
        {
            return windows;
        }

        await using var connection = new NpgsqlConnection(context.Fleet.DatabaseConnection);
        await connection.OpenAsync(cancellationToken);
        foreach (var (window, runs) in await connection.QueryAsync<(DateTime Window, long Runs)>(new CommandDefinition(
            """
            SELECT w, count(r.id) FROM generate_series(@first, @last, @interval) AS w
            LEFT JOIN job_runs r ON r.window_start = w AND r.job = 'inventory-sync'
            GROUP BY w
            """, new { first, last, interval = Interval }, cancellationToken: cancellationToken)))
        {
            windows[DateTime.SpecifyKind(window, DateTimeKind.Utc)] = (int)runs;
        }

        return windows;
    }

    /// <summary>What inventory received, per window: the count kept outside the shop.</summary>
    private static async Task<IReadOnlyList<InventoryWindow>> InventoryWindowsAsync(ScenarioContext context, CancellationToken cancellationToken) =>
        await context.Fleet.Inventory.Client.GetFromJsonAsync<List<InventoryWindow>>("/inventory/sync", System.Text.Json.JsonSerializerOptions.Web, cancellationToken) ?? [];

    private static async Task CaptureAsync(ScenarioContext context, string phase, DateTime first, DateTime last, CancellationToken cancellationToken)
    {
        await context.Evidence.PsqlAsync("Runs per window by replica (job_runs)", phase,
            $"""
            SELECT to_char(w AT TIME ZONE 'UTC', 'HH24:MI:SS') AS window, count(r.id) AS runs,
                   coalesce(string_agg(r.replica_id || ' ' || r.status, ', ' ORDER BY r.started_at), '') AS replicas
            FROM generate_series(timestamptz '{Sql(first)}', timestamptz '{Sql(last)}', interval '{Interval.TotalSeconds} seconds') AS w
            LEFT JOIN job_runs r ON r.window_start = w AND r.job = 'inventory-sync'
            GROUP BY w ORDER BY w
            """, cancellationToken);
        var inventory = context.Fleet.Inventory.Address.ToString().TrimEnd('/');
        await context.Evidence.ShellAsync("Reconciliations inventory received, per window (the last ones) and in total", phase,
            $"curl -s {inventory}/inventory/sync | grep -o '{{[^}}]*}}' | tail -n 6; curl -s {inventory}/metrics | grep -E '^firedrill_inventory_sync'",
            cancellationToken: cancellationToken);
        await context.Evidence.PsqlAsync("The job's locks (job_locks)", phase,
            "SELECT name, lock_until, locked_at, locked_by FROM job_locks ORDER BY locked_at DESC LIMIT 6", cancellationToken);
    }

    private static DateTime Ceiling(DateTime at) => new(at.Ticks + (Interval.Ticks - at.Ticks % Interval.Ticks) % Interval.Ticks, DateTimeKind.Utc);

    private static DateTime Floor(DateTime at) => new(at.Ticks - at.Ticks % Interval.Ticks, DateTimeKind.Utc);

    private static double Share(int part, int whole) => whole == 0 ? 0 : Math.Round((double)part / whole, 3);

    private static string Sql(DateTime at) => at.ToString("yyyy-MM-dd HH:mm:ss.fff+00", CultureInfo.InvariantCulture);
}
