using System.Globalization;
using Dapper;
using Firedrill.Lab.Faults.Support;
using Firedrill.Lab.Fleet;
using Firedrill.Lab.Scenarios;
using Npgsql;

namespace Firedrill.Lab.Faults;

/// <summary>
/// Fault 7, its first half. Every session the fleet holds on its own database is terminated by
/// PostgreSQL (<c>pg_terminate_backend</c>, as a failover, an idle-session killer or a DBA does)
/// several times while payers pay: the pools hold dead connections, the requests on them fail,
/// and the shop must reconnect by itself with nothing acknowledged lost. Only the run's own
/// database is touched. The second half of issue 15's fault 7, PostgreSQL restarted, is not done:
/// the fleet runs on the machine's shared server, which no fault may restart.
/// </summary>
internal sealed class SessionsTerminated : Fault
{
    private const double PaymentsPerSecond = 20;
    private const double ReadsPerSecond = 20;
    private const int Rounds = 3;

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

    public override string Title => "PostgreSQL terminates every session of the shop under load";

    public override string Promise =>
        "When PostgreSQL drops its connections, the shop reconnects by itself (no restart), requests fail only while it happens and succeed when retried, no acknowledged payment is lost and none is charged twice (Jepsen's acknowledged writes; Npgsql's pool discards broken connections).";

    public override string Injects => string.Create(CultureInfo.InvariantCulture,
        $"pg_terminate_backend on every client session of the run's database, {Rounds} times 2 s apart, while payments and catalog reads flow through the gateway.");

    public override string Audits =>
        "Each payer's own record against the payments table (acknowledged but missing, charged twice); the replicas' processes (the same ones alive before and after); new sessions in pg_stat_activity.";

    public override string Recovery => "From the first termination to the end of the last failed client attempt.";

    public override FleetOptions Fleet(FleetOptions defaults) => defaults with
    {
        Replicas = 2,
        ShopSettings = new Dictionary<string, string>(defaults.ShopSettings) { ["Payments:IdempotencyLease"] = "00:00:05" },
    };

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
        clock.Enter("settling");
        await clock.SettleAsync(TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(15), cancellationToken);
        clock.Enter(FaultClock.After);
        await Task.Delay(after, cancellationToken);
        var records = await run.StopAsync();
        var sessionsAfter = await Probes.ScalarAsync(database, SessionsSql, cancellationToken);

        var audit = await PaymentAudit.RunAsync(database, records, cancellationToken);
        await context.Evidence.PsqlAsync("Payments in PostgreSQL: one per order", "audit", PaymentAudit.SummarySql, cancellationToken);
        await context.Evidence.PsqlAsync("The shop's sessions now (reconnected by its pools)", "audit",
            "SELECT application_name, state, count(*) FROM pg_stat_activity WHERE datname = current_database() AND backend_type = 'client backend' GROUP BY 1, 2 ORDER BY 1, 2", cancellationToken);
        var restarted = processes.Count(p => fleet.Shops.SingleOrDefault(shop => shop.Name == p.Name) is not { } shop || shop.Pid != p.Pid || shop.HasExited);
        context.Evidence.Add("The replicas' processes before and after", "audit", "ps -o pid,etime,cmd -p " + string.Join(',', processes.Select(p => p.Pid.ToString(CultureInfo.InvariantCulture))),
            string.Join('\n', processes.Select(p => string.Create(CultureInfo.InvariantCulture,
                $"{p.Name}: pid {p.Pid} before, {(fleet.Shops.SingleOrDefault(s => s.Name == p.Name) is { HasExited: false } s ? s.Pid.ToString(CultureInfo.InvariantCulture) + " alive" : "gone")} after"))));

        var load = clock.ToResult();
        var afterTally = clock.Tally(load, stage => stage == FaultClock.After);
        var recovery = double.IsNaN(clock.LastFailure) ? 0 : Math.Max(0, clock.LastFailure - firstAt);
        return new FaultOutcome
        {
            Load = load,
            Clock = clock,
            Audited = audit.Audited,
            Lost = audit.Lost,
            Duplicated = audit.Duplicated,
            RecoverySeconds = recovery,
            Checks =
            [
                Verdict.EqualTo("acknowledged payments missing from PostgreSQL", "audit", audit.Lost, 0),
                Verdict.EqualTo("payments beyond the first per order", "audit", audit.Duplicated, 0),
                Verdict.EqualTo("payers never acknowledged (retries gave up)", "audit", audit.Audited - audit.Acknowledged, 0),
                Verdict.Above("sessions terminated (the fault hit)", "during", terminated.Sum(), 0),
                Verdict.EqualTo("replicas restarted or dead", "audit", restarted, 0),
                Verdict.Above("sessions open again afterwards (reconnected)", FaultClock.After, sessionsAfter, 0),
                Verdict.EqualTo("failed attempts once settled", FaultClock.After, afterTally.Errors, 0),
            ],
            Figures = new Dictionary<string, double>
            {
                ["sessions_before"] = sessionsBefore,
                ["sessions_terminated"] = terminated.Sum(),
                ["sessions_after"] = sessionsAfter,
                ["payers"] = audit.Audited,
                ["acknowledged"] = audit.Acknowledged,
                ["failed_attempts"] = load.Total.Errors,
                ["payments_retried"] = records.Count(record => record.Failures > 0),
                ["payment_p99_ms"] = Math.Round(load.Endpoints[PaymentClient.Endpoint].P99Ms, 1),
            },
            Summary = string.Create(CultureInfo.InvariantCulture,
                $"{terminated.Sum()} sessions terminated in {Rounds} rounds; {load.Total.Errors} client attempts failed, the last {recovery:0.0} s after the first round; {audit.Acknowledged} of {audit.Audited} payers acknowledged, {audit.Lost} lost, {audit.Duplicated} charged twice; the same {processes.Count} replica processes, {sessionsAfter:0} sessions open again."),
        };
    }
}
