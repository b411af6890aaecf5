using System.Globalization;
using Dapper;
using Firedrill.Lab.Faults.Support;
using Firedrill.Lab.Fleet;
using Firedrill.Lab.Scenarios;
using Npgsql;

namespace Firedrill.Lab.Faults;

/// <summary>
/// Fault 7. Every session the fleet holds on its database is terminated by PostgreSQL
/// (<c>pg_terminate_backend</c>, as a failover, an idle-session killer or a DBA does) several times
/// while payers pay: the pools hold dead connections, the requests on them fail, and the shop must
/// reconnect by itself with nothing acknowledged lost. Then PostgreSQL itself is stopped and started
/// again: readiness must go red while it is down and green when it is back, with no replica
/// restarted. The fleet runs on a cluster of its own (<see cref="PrivatePostgres"/>): the machine's
/// shared server, which other fleets use, is never restarted.
/// </summary>
internal sealed class SessionsTerminated : Fault
{
    private const double PaymentsPerSecond = 20;
    private const double ReadsPerSecond = 20;
    private const int Rounds = 3;
    /// <summary>How long PostgreSQL stays down: long enough for readiness (cached 0.5 s, probing a refused connection) to go red.</summary>
    private static readonly TimeSpan Down = TimeSpan.FromSeconds(3);

    // This run's database only, never another fleet's; the lab's own session survives to audit.
    private const string TerminateSql =
        """
        SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity
        WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'
        """;

    private const string SessionsSql =
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'";

    public override int Number => 7;

    public override string Id => "sessions-terminated";

    public override string Title => "PostgreSQL terminates every session of the shop, then restarts, under load";

    public override string Promise =>
        "When PostgreSQL drops its connections or restarts, the shop reconnects by itself (no restart of its own), readiness goes red while the database is down and green when it is back, requests fail only meanwhile and succeed when retried, no acknowledged payment is lost and none is charged twice (Jepsen's acknowledged writes; Npgsql's pool discards broken connections).";

    public override string Injects => string.Create(CultureInfo.InvariantCulture,
        $"pg_terminate_backend on every client session of the run's database, {Rounds} times 2 s apart, then PostgreSQL stopped (pg_ctl stop -m fast) for {Down.TotalSeconds:0} s and started again, while payments and catalog reads flow through the gateway. The fleet's PostgreSQL is a cluster of its own; the shared server is never restarted.");

    public override string Audits =>
        "Each payer's own record against the payments table (acknowledged but missing, charged twice); the replicas' processes (the same ones alive before and after); their readiness while PostgreSQL was down and after; new sessions in pg_stat_activity.";

    public override string Recovery => "From the first termination to the end of the last failed client attempt.";

    public override FleetOptions Fleet(FleetOptions defaults) => PaymentRun.Fleet(defaults, replicas: 2) with { OwnPostgres = true };

    public override async Task<FaultOutcome> RunAsync(ScenarioContext context, CancellationToken cancellationToken)
    {
        var fleet = context.Fleet;
        var database = fleet.DatabaseConnection;
        var before = context.Duration(TimeSpan.FromSeconds(6), TimeSpan.FromSeconds(4));
        var after = context.Duration(TimeSpan.FromSeconds(8), TimeSpan.FromSeconds(5));
        await using var run = await PaymentRun.StartAsync(context, PaymentsPerSecond, ReadsPerSecond, before + after + TimeSpan.FromSeconds(20), cancellationToken);
        var clock = run.Clock;
        clock.KeySignal = "sessions on the run's database";
        run.SampleEvery(clock.KeySignal, TimeSpan.FromMilliseconds(500), token => Probes.ScalarAsync(database, SessionsSql, token));
        var processes = fleet.Shops.Select(shop => (shop.Name, shop.Pid)).ToList();

        await Task.Delay(before, cancellationToken);
        var sessionsBefore = await Probes.ScalarAsync(database, SessionsSql, cancellationToken);
        var firstAt = clock.Enter("sessions terminated");
        var terminated = new List<long>();
        await using (var connection = new NpgsqlConnection(database))
        {
            await connection.OpenAsync(cancellationToken);
            for (var round = 0; round < Rounds; round++)
            {
                terminated.Add(await connection.ExecuteScalarAsync<long>(new CommandDefinition(TerminateSql, cancellationToken: cancellationToken)));
                await Task.Delay(TimeSpan.FromSeconds(2), cancellationToken);
            }
        }

        context.Evidence.Add("The fault: every client session of the run's database terminated, per round", "during",
            "psql \"$DATABASE\" -c \"" + TerminateSql.ReplaceLineEndings(" ") + "\"",
            string.Join('\n', terminated.Select((count, round) => string.Create(CultureInfo.InvariantCulture, $"round {round + 1}: {count} sessions terminated"))));
        await run.SettleAsync(cancellationToken);

        // The second half: PostgreSQL itself stopped and started again, as a restart or a failover does.
        var server = fleet.OwnPostgres ?? throw new InvalidOperationException("sessions-terminated restarts PostgreSQL: its fleet needs a cluster of its own");
        clock.Enter("postgres down");
        await server.StopServerAsync(cancellationToken);
        var readyWhileDown = await LowestReadyAsync(fleet, Down, cancellationToken);
        clock.Enter("postgres started");
        await server.StartServerAsync(cancellationToken);
        var startedAt = clock.Now;
        var readyAgain = await Waiting.UntilAsync(async token => await Probes.ReadyReplicasAsync(fleet, token) == processes.Count,
            TimeSpan.FromSeconds(20), TimeSpan.FromMilliseconds(200), cancellationToken);
        var readyAfterStart = clock.Now - startedAt;
        context.Evidence.Add("The fault: PostgreSQL stopped and started again (the fleet's own cluster)", "during",
            $"pg_ctl -D $PGDATA -m fast -w stop; sleep {Down.TotalSeconds:0}; pg_ctl -D $PGDATA -w start",
            string.Create(CultureInfo.InvariantCulture,
                $"replicas ready while it was down: {readyWhileDown:0} of {processes.Count} (lowest of the probes); all {processes.Count} ready again {readyAfterStart:0.0} s after it started: {(readyAgain ? "yes" : "no")}"));
        await run.SettleAsync("settling after the restart", TimeSpan.FromSeconds(15), cancellationToken);
        var records = await run.FinishAsync(after, cancellationToken);
        var sessionsAfter = await Probes.ScalarAsync(database, SessionsSql, cancellationToken);

        var audit = await PaymentAudit.CaptureAsync(context, records, cancellationToken);
        await context.Evidence.PsqlAsync("The shop's sessions now (reconnected by its pools)", "audit",
            "SELECT application_name, state, count(*) FROM pg_stat_activity WHERE datname = current_database() AND backend_type = 'client backend' GROUP BY 1, 2 ORDER BY 1, 2", cancellationToken);
        var restarted = processes.Count(p => fleet.Shops.SingleOrDefault(shop => shop.Name == p.Name) is not { } shop || shop.Pid != p.Pid || shop.HasExited);
        context.Evidence.Add("The replicas' processes before and after", "audit", "ps -o pid,etime,cmd -p " + string.Join(',', processes.Select(p => p.Pid.ToString(CultureInfo.InvariantCulture))),
            string.Join('\n', processes.Select(p => string.Create(CultureInfo.InvariantCulture,
                $"{p.Name}: pid {p.Pid} before, {(fleet.Shops.SingleOrDefault(s => s.Name == p.Name) is { HasExited: false } s ? s.Pid.ToString(CultureInfo.InvariantCulture) + " alive" : "gone")} after"))));

        var load = clock.ToResult();
        var afterTally = clock.Tally(load, stage => stage == FaultClock.After);
        var recovery = double.IsNaN(clock.LastFailure) ? 0 : Math.Max(0, clock.LastFailure - firstAt);
        return audit.Outcome(clock, load, recovery,
            [
                Verdict.Above("sessions terminated (the fault hit)", "during", terminated.Sum(), 0),
                Verdict.EqualTo("replicas restarted or dead", "audit", restarted, 0),
                Verdict.EqualTo("replicas ready while PostgreSQL was down (readiness red)", "postgres down", readyWhileDown, 0),
                Verdict.EqualTo("every replica ready again once PostgreSQL was back (1 = yes)", "postgres started", readyAgain ? 1 : 0, 1),
                Verdict.Above("sessions open again afterwards (reconnected)", FaultClock.After, sessionsAfter, 0),
                Verdict.EqualTo("failed attempts once settled", FaultClock.After, afterTally.Errors, 0),
            ],
            new Dictionary<string, double>
            {
                ["sessions_before"] = sessionsBefore,
                ["sessions_terminated"] = terminated.Sum(),
                ["sessions_after"] = sessionsAfter,
                ["postgres_down_seconds"] = Down.TotalSeconds,
                ["ready_while_down"] = readyWhileDown,
                ["seconds_to_ready_after_start"] = Math.Round(readyAfterStart, 1),
                ["payment_p99_ms"] = Math.Round(load.Endpoints[PaymentClient.Endpoint].P99Ms, 1),
            },
            string.Create(CultureInfo.InvariantCulture,
                $"{terminated.Sum()} sessions terminated in {Rounds} rounds, then PostgreSQL down {Down.TotalSeconds:0} s (replicas ready meanwhile: {readyWhileDown:0}; all ready {readyAfterStart:0.0} s after it started); {load.Total.Errors} client attempts failed, the last {recovery:0.0} s after the first round; {audit.Acknowledged} of {audit.Audited} payers acknowledged, {audit.Lost} lost, {audit.Duplicated} charged twice; the same {processes.Count} replica processes, {sessionsAfter:0} sessions open again."));
    }

    /// <summary>The fewest replicas answering ready, probed every 250 ms for <paramref name="span"/> (the first half second left to readiness's cache).</summary>
    private static async Task<double> LowestReadyAsync(LabFleet fleet, TimeSpan span, CancellationToken cancellationToken)
    {
        var lowest = double.MaxValue;
        var end = DateTime.UtcNow + span;
        await Task.Delay(TimeSpan.FromMilliseconds(500), cancellationToken);
        while (DateTime.UtcNow < end)
        {
            lowest = Math.Min(lowest, await Probes.ReadyReplicasAsync(fleet, cancellationToken));
            await Task.Delay(TimeSpan.FromMilliseconds(250), cancellationToken);
        }

        return lowest;
    }
}
