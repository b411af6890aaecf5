using System.Globalization;
using System.Text.Json;
using Firedrill.Lab.Faults.Support;
using Firedrill.Lab.Fleet;
using Firedrill.Lab.Scenarios;

namespace Firedrill.Lab.Faults;

/// <summary>
/// Fault 2. Answers lost after the shop committed: a proxy between the client and the gateway,
/// and another between the gateway and one replica, reset the connection as the answer to a
/// payment starts to come back. The client (or the gateway, which answers 502) never learns the
/// payment went through; the client retries with its key and gets the first answer replayed.
/// </summary>
internal sealed class ResponseLost : Fault
{
    private const double PaymentsPerSecond = 20;
    private const double CutShare = 0.25;

    public override int Number => 2;

    public override string Id => "response-lost";

    public override string Title => "Answers lost after the commit";

    public override string Promise =>
        "A payment whose answer was lost after the commit is replayed, not charged again, when the client retries with its Idempotency-Key (draft-ietf-httpapi-idempotency-key-header; Stripe).";

    public override string Injects => string.Create(CultureInfo.InvariantCulture,
        $"Two TCP proxies, client → gateway and gateway → one replica, reset the connection as a payment's answer starts to come back, for {CutShare:P0} of payments at each, after the shop has committed.");

    public override string Audits =>
        "Each payer's record against the payments table (acknowledged but missing, payments beyond the first per order), and the answers the payers saw replayed (Idempotent-Replayed: true).";

    public override string Recovery => "The longest a payer took from its first lost answer to its acknowledgement.";

    public override FleetOptions Fleet(FleetOptions defaults) => defaults with
    {
        Replicas = 2,
        ShopSettings = new Dictionary<string, string>(defaults.ShopSettings) { ["Payments:IdempotencyLease"] = "00:00:05" },
    };

    public override async Task<FaultOutcome> RunAsync(ScenarioContext context, CancellationToken cancellationToken)
    {
        var fleet = context.Fleet;
        var cutting = context.Duration(TimeSpan.FromSeconds(15), TimeSpan.FromSeconds(8));
        var before = TimeSpan.FromSeconds(3);
        var after = context.Duration(TimeSpan.FromSeconds(8), TimeSpan.FromSeconds(4));
        await using var clientSide = new CuttingProxy(fleet.Gateway.Address, seed: 15);
        await using var gatewaySide = new CuttingProxy(fleet.Shops[0].Address, seed: 51);
        var destination = $"ReverseProxy:Clusters:shop:Destinations:{fleet.Shops[0].Name}:Address";
        await fleet.Gateway.ConfigureAsync(JsonSerializer.Serialize(new Dictionary<string, string> { [destination] = gatewaySide.Address.ToString() }), cancellationToken);

        await using var run = await PaymentRun.StartAsync(context, PaymentsPerSecond, readsPerSecond: 20, before + cutting + after + TimeSpan.FromSeconds(6), cancellationToken, front: clientSide.Address);
        var clock = run.Clock;
        clock.KeySignal = "answers cut (total)";
        run.SampleEvery("answers cut (total)", TimeSpan.FromMilliseconds(500), _ => Task.FromResult((double)(clientSide.Cuts + gatewaySide.Cuts)));
        run.SampleEvery("payments committed per second", TimeSpan.FromSeconds(1),
            Probes.PerSecond(token => Probes.ScalarAsync(fleet.DatabaseConnection, "SELECT count(*) FROM payments", token)));

        await Task.Delay(before, cancellationToken);
        clock.Enter("answers cut");
        clientSide.CutShare = gatewaySide.CutShare = CutShare;
        await Task.Delay(cutting, cancellationToken);
        clientSide.CutShare = gatewaySide.CutShare = 0;
        clock.Enter("settling");
        await clock.SettleAsync(TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(10), cancellationToken);
        clock.Enter(FaultClock.After);
        await Task.Delay(after, cancellationToken);
        var records = await run.StopAsync();

        var audit = await PaymentAudit.RunAsync(fleet.DatabaseConnection, records, cancellationToken);
        await context.Evidence.PsqlAsync("Payments in PostgreSQL: one per order", "audit", PaymentAudit.SummarySql, cancellationToken);
        await context.Evidence.PsqlAsync("Idempotency keys answered once and replayed since", "audit",
            "SELECT count(*) AS keys, count(*) FILTER (WHERE completed_at IS NOT NULL) AS completed, count(*) FILTER (WHERE response_status = 201) AS answered_201 FROM idempotency_keys",
            cancellationToken);
        context.Evidence.Add("Answers the proxies cut after the shop had answered", "during",
            "(the lab's proxies: client → gateway, gateway → " + fleet.Shops[0].Name + ")",
            string.Create(CultureInfo.InvariantCulture, $"client → gateway: {clientSide.Cuts} of {clientSide.Posts} payment answers cut\ngateway → {fleet.Shops[0].Name}: {gatewaySide.Cuts} of {gatewaySide.Posts} payment answers cut"));

        var load = clock.ToResult();
        var replays = records.Sum(record => record.Replays);
        var recovered = records.Where(record => record is { FirstFailureAt: not null, AcknowledgedAt: not null }).ToList();
        var recovery = recovered.Count == 0 ? 0 : recovered.Max(record => record.AcknowledgedAt!.Value - record.FirstFailureAt!.Value);
        var afterTally = clock.Tally(load, stage => stage == FaultClock.After);
        var cuts = clientSide.Cuts + gatewaySide.Cuts;
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
                Verdict.Above("answers cut after the commit", "during", cuts, 0),
                Verdict.Above("answers replayed to a retry (Idempotent-Replayed)", "during", replays, 0),
                Verdict.EqualTo("failed attempts once the cuts stopped", FaultClock.After, afterTally.Errors, 0),
            ],
            Figures = new Dictionary<string, double>
            {
                ["payers"] = audit.Audited,
                ["acknowledged"] = audit.Acknowledged,
                ["answers_cut_client_side"] = clientSide.Cuts,
                ["answers_cut_gateway_side"] = gatewaySide.Cuts,
                ["replayed_answers"] = replays,
                ["payments_retried"] = records.Count(record => record.Failures > 0),
                ["failed_attempts"] = load.Total.Errors,
                ["gateway_502s"] = load.Total.Outcomes.GetValueOrDefault("502"),
                ["charged_but_unacknowledged"] = audit.ChargedUnacknowledged,
            },
            Summary = string.Create(CultureInfo.InvariantCulture,
                $"{cuts} payment answers were lost after the commit; the payers' retries got {replays} answers replayed; {audit.Duplicated} duplicate charges and {audit.Lost} acknowledged payments missing among {audit.Audited} payers."),
        };
    }
}
