using System.Globalization;
using Firedrill.Lab.Faults.Support;
using Firedrill.Lab.Fleet;
using Firedrill.Lab.Scenarios;

namespace Firedrill.Lab.Faults;

/// <summary>
/// Fault 1. A replica dies mid-request (SIGKILL: no graceful shutdown, requests in flight cut)
/// while payers pay with retries, and an orchestrator puts a replacement in. Payments that were
/// mid-flight on the dead replica either committed (the retry replays them) or did not (the retry
/// does them); either way no order is charged twice and no acknowledged payment is missing.
/// </summary>
internal sealed class ReplicaKilled : Fault
{
    private const double PaymentsPerSecond = 20;
    private const double ReadsPerSecond = 30;

    public override int Number => 1;

    public override string Id => "replica-killed";

    public override string Title => "A replica SIGKILLed and restarted mid-load";

    public override string Promise =>
        "A payment retried by its client with the same Idempotency-Key is charged once, whichever replica died under it; every acknowledged payment is in the database (Stripe's idempotent requests; Jepsen's acknowledged writes).";

    public override string Injects =>
        "kill -9 of one of two replicas while payments and catalog reads flow through the gateway, then a replacement replica started and put in rotation, as an orchestrator replaces a crashed pod.";

    public override string Audits =>
        "Each payer's own record (the payment id and amount it was acknowledged) against the payments table: acknowledged but missing, and payments beyond the first per order.";

    public override string Recovery => "From the SIGKILL to the end of the last failed client attempt.";

    public override FleetOptions Fleet(FleetOptions defaults) => defaults with
    {
        Replicas = 2,
        ShopSettings = new Dictionary<string, string>(defaults.ShopSettings)
        {
            // A key claimed by the replica that died stays "in progress" for one lease; the suite
            // keeps it short so the payers' retries settle within the run (the default is 30 s).
            ["Payments:IdempotencyLease"] = "00:00:05",
        },
    };

    public override async Task<FaultOutcome> RunAsync(ScenarioContext context, CancellationToken cancellationToken)
    {
        var fleet = context.Fleet;
        var before = context.Duration(TimeSpan.FromSeconds(6), TimeSpan.FromSeconds(4));
        var down = TimeSpan.FromSeconds(2);
        var after = context.Duration(TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(5));
        await using var run = await PaymentRun.StartAsync(context, PaymentsPerSecond, ReadsPerSecond, before + down + after + TimeSpan.FromSeconds(16), cancellationToken);
        var clock = run.Clock;
        clock.KeySignal = "payments committed per second";
        run.SampleEvery("payments committed per second", TimeSpan.FromSeconds(1),
            Probes.PerSecond(token => Probes.ScalarAsync(fleet.DatabaseConnection, "SELECT count(*) FROM payments", token)));

        await Task.Delay(before, cancellationToken);
        var victim = fleet.Shops[0];
        var killedAt = clock.Enter("killed");
        await context.Evidence.ShellAsync($"The fault: {victim.Name} killed without warning", "during",
            $"kill -9 {victim.Pid.ToString(CultureInfo.InvariantCulture)}  # {victim.Name}, serving half the traffic", cancellationToken: cancellationToken,
            run: $"kill -9 {victim.Pid.ToString(CultureInfo.InvariantCulture)} && echo killed {victim.Name}");
        await Task.Delay(down, cancellationToken);

        clock.Enter("replaced");
        await fleet.AddReplicaAsync(cancellationToken);
        await fleet.RemoveReplicaAsync(victim.Name, cancellationToken);
        var replacedAt = clock.Now;
        // A new process takes its first requests cold; the fleet has settled when the clients stop failing.
        clock.Enter("settling");
        await clock.SettleAsync(TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(15), cancellationToken);
        clock.Enter(FaultClock.After);
        await Task.Delay(after, cancellationToken);
        var records = await run.StopAsync();

        var audit = await PaymentAudit.RunAsync(fleet.DatabaseConnection, records, cancellationToken);
        await context.Evidence.PsqlAsync("Payments in PostgreSQL: one per order", "audit", PaymentAudit.SummarySql, cancellationToken);
        await context.Evidence.PsqlAsync("Orders charged more than once (none expected)", "audit", PaymentAudit.ChargedTwiceSql, cancellationToken);

        var load = clock.ToResult();
        var afterTally = clock.Tally(load, stage => stage == FaultClock.After);
        var failed = load.Total.Errors;
        var retried = records.Count(record => record.Failures > 0);
        var recovery = double.IsNaN(clock.LastFailure) ? 0 : Math.Max(0, clock.LastFailure - killedAt);
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
                Verdict.Above("client attempts the kill failed (the fault hit requests)", "during", failed, 0),
                Verdict.Above("payments that needed a retry and were acknowledged", "during", retried, 0),
                Verdict.EqualTo("failed attempts once the replacement was in rotation", FaultClock.After, afterTally.Errors, 0),
            ],
            Figures = new Dictionary<string, double>
            {
                ["payers"] = audit.Audited,
                ["acknowledged"] = audit.Acknowledged,
                ["payments_retried"] = retried,
                ["replayed_answers"] = records.Sum(record => record.Replays),
                ["failed_attempts"] = failed,
                ["charged_but_unacknowledged"] = audit.ChargedUnacknowledged,
                ["killed_at_s"] = Math.Round(killedAt, 2),
                ["replacement_in_rotation_at_s"] = Math.Round(replacedAt, 2),
                ["payment_p99_ms"] = Math.Round(load.Endpoints[PaymentClient.Endpoint].P99Ms, 1),
            },
            Summary = string.Create(CultureInfo.InvariantCulture,
                $"{audit.Acknowledged} of {audit.Audited} payers acknowledged, {retried} of them after a failed attempt; {audit.Lost} acknowledged payments missing, {audit.Duplicated} duplicate charges; the last client error came {recovery:0.0} s after the kill."),
        };
    }
}
