using System.Globalization;
using System.Net;
using System.Text;
using Firedrill.Lab.Fleet;
using Firedrill.Lab.Load;

namespace Firedrill.Lab.Scenarios.Incidents;

/// <summary>
/// SCENARIOS.md #3. Two replicas with a deliberately small pool (10 connections each, well under
/// the server's shared max_connections). <c>held-across-call</c>: the order path holds a pooled
/// connection and an open transaction while inventory takes 800 ms; at peak every connection is
/// held and requests give up after the acquisition timeout (503 "Database busy").
/// <c>leak-on-error</c>: the availability path's fallback returns without disposing its
/// connection; with inventory failing now and then the pool drains until nothing is left. The
/// fix: the call outside the transaction, <c>await using</c> on every path, a pool sized from
/// measured concurrency with a short acquisition timeout.
/// </summary>
internal sealed class DbPoolExhaustion : Scenario<DbPoolExhaustion.Cause>
{
    /// <summary>
    /// A variant: the shipped defect (a shop setting), the inventory service's behaviour from the
    /// broken phase on, and the load: a normal rate for the baseline and the peak after it.
    /// </summary>
    internal sealed record Cause(string Name, string Summary, string DefectSetting, int InventoryLatencyMs, double InventoryErrorRate,
        double BaselineRate, double PeakRate, bool Orders) : ScenarioVariant(Name, Summary);

    private const int PoolSize = 10;
    private const int AcquireTimeoutSeconds = 2;
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(8);

    public override string Id => "db-pool-exhaustion";

    public override string Title => "Connections run out at peak";

    // held-across-call's numbers, by Little's law: the peak brings 56 orders a second (75 × 3/4), 28 per
    // replica, each holding a connection for inventory's 800 ms: 22 connections wanted of 10. A pool
    // serves 12.5 a second, the queue grows by ~15 a second, and its wait passes the 2 s acquisition
    // timeout about 1.6 s into the peak, whatever the machine's speed (at 400 ms the pool kept up with
    // 25 of 28 a second and the quick phase ended before any wait reached 2 s). The baseline's
    // 7.5 orders a second per replica hold 6 of 10.
    protected override IReadOnlyList<Cause> TypedVariants { get; } =
    [
        new("held-across-call", "orders hold a connection and a transaction across an 800 ms inventory call; at peak the pool runs dry",
            "Orders:ReserveInsideTransaction", 800, 0, BaselineRate: 20, PeakRate: 75, Orders: true),
        new("leak-on-error", "the availability fallback returns without disposing its connection; inventory errors drain the pool",
            "Catalog:LeakyAvailabilityLookup", 0, 0.2, BaselineRate: 60, PeakRate: 60, Orders: false),
    ];

    private bool Held => Chosen.Orders;

    public override SignalQuery KeySignal => new(
        "requests waiting for a connection", """sum(db_client_connection_npgsql_pending_requests{service=~"shop-.*"}) or vector(0)""",
        "Requests queued inside Npgsql for a pooled connection, all replicas.");

    public override IReadOnlyList<SignalQuery> ChartSignals =>
    [
        new("connections in use", """sum(db_client_connection_count{service=~"shop-.*", db_client_connection_state="used"})""",
            "Pooled connections checked out, all replicas (the pools hold 2 × 10)."),
        new(Held ? "sessions idle in transaction" : "sessions of the run's database",
            Held ? """sum(pg_run_activity_count{state="idle in transaction"})""" : """sum(pg_run_activity_count)""",
            "What PostgreSQL sees (postgres_exporter)."),
    ];

    public override Runbook Runbook => new(
        Held
            ? "At peak, orders fail with 503 \"Database busy\" after waiting two seconds, while PostgreSQL is nearly idle and its CPU low."
            : "Minutes after inventory starts failing now and then, every endpoint that touches the database answers 503 \"Database busy\", and stays that way.",
        [
            new("Pool usage", """max(max_over_time(db_client_connection_count{service=~"shop-.*", db_client_connection_state="used"}[10s]) / ignoring(db_client_connection_state) db_client_connection_max{service=~"shop-.*"})""",
                "1 means a replica's every pooled connection was checked out in the last 10 s."),
            new("Requests waiting for a connection", """sum(max_over_time(db_client_connection_npgsql_pending_requests{service=~"shop-.*"}[10s])) or vector(0)""",
                "A queue in front of the pool: requests waiting for someone to give a connection back (the most in the last 10 s)."),
            new("Connection acquisitions that timed out", """sum(rate(firedrill_db_connection_wait_time_seconds_count{outcome="timeout"}[10s])) or vector(0)""",
                "Requests per second that gave up after Db:AcquireTimeoutSeconds (the 503s)."),
            Held
                ? new("Sessions idle in transaction", """sum(max_over_time(pg_run_activity_count{state="idle in transaction"}[10s]))""",
                    "Connections inside a transaction doing nothing on the database: the application holds them while it waits on something else.")
                : new("Idle sessions of the shop", """sum(max_over_time(pg_run_activity_count{state="idle"}[10s]))""",
                    "Sessions that stay idle and never go back to work: nothing returns them to the pool (the last query in pg_stat_activity shows where they were opened)."),
            new("Database CPU work", """sum(rate(pg_run_statements_total_exec_seconds[10s]))""",
                "Seconds of statement execution per second: low, so the database is not the bottleneck — the pool is."),
        ],
        Held
            ? "OrderService.PlaceHoldingConnectionAcrossReservationAsync (src/Firedrill.Shop/Features/Orders/OrderService.cs, Orders:ReserveInsideTransaction=true) opens a connection and a transaction, then calls inventory (800 ms) while holding both. Each order keeps a connection for the whole call: a pool of 10 serves at most 12.5 orders per second per replica (10 ÷ 0.8 s), and the peak brings 28, so the queue for a connection grows by about 15 a second and requests give up after Db:AcquireTimeoutSeconds."
            : "LeakyAvailabilityLookup.GetAsync (src/Firedrill.Shop/Features/Catalog/LeakyAvailabilityLookup.cs, Catalog:LeakyAvailabilityLookup=true) disposes its connection by hand at the end, and the fallback's early return (inventory failed, answer \"unknown\") skips that line. Each inventory failure leaks one pooled connection for good; after ten per replica nothing is left and every database request waits out Db:AcquireTimeoutSeconds.",
        Held
            ? "The correct path, OrderService.PlaceAsync: reserve at inventory first, outside any transaction, then one short transaction for the writes (the reservation is given back if they fail). The pool stays as deliberately sized (10 per replica, all replicas well under max_connections, a 2 s acquisition timeout so an overload fails fast as a 503): once transactions are short, a few connections are busy at peak."
            : "The correct path in CatalogEndpoints.GetAvailabilityAsync needs no connection at all (the cached product carries the SKU); wherever a connection is needed, `await using` disposes it on every path, early returns and exceptions included. Leaked connections never return to their pool, so the fix takes effect deployed: the lab replaces the replicas (a rolling restart behind the gateway), and the old processes' sessions close with them.");

    public override FleetOptions Fleet(FleetOptions defaults) => defaults with
    {
        Replicas = 2,
        ShopSettings = new Dictionary<string, string>(defaults.ShopSettings)
        {
            // As shipped: a small pool, two replicas × 10 well under the server's max_connections.
            ["Db:MaxPoolSize"] = PoolSize.ToString(CultureInfo.InvariantCulture),
            ["Db:AcquireTimeoutSeconds"] = AcquireTimeoutSeconds.ToString(CultureInfo.InvariantCulture),
            ["Jobs:InventorySyncEnabled"] = "false",
            // Inventory is slow by design in held-across-call (800 ms): the client waits for it. In
            // leak-on-error it answers each failure at once (no retries hiding the error path).
            ["InventoryClient:AttemptTimeout"] = "00:00:03",
            ["InventoryClient:TotalTimeout"] = "00:00:05",
            ["InventoryClient:MaxRetries"] = Held ? "2" : "0",
            // The bulkhead sized for this inventory: on the fixed path the peak keeps 28 × 0.8 s ≈ 22
            // calls in flight per replica, and the default 32 left too little room for the arrivals
            // the load generator catches up with after the machine stalls (one margins run had a
            // reservation rejected by the bulkhead in the fixed phase).
            ["InventoryClient:MaxConcurrentCalls"] = "64",
        },
    };

    public override async Task ApplyAsync(ScenarioContext context, string phase, CancellationToken cancellationToken)
    {
        var errors = phase == Phases.Baseline ? 0 : Chosen.InventoryErrorRate;
        await context.Fleet.Inventory.ConfigureAsync(string.Create(CultureInfo.InvariantCulture,
            $$"""{"Inventory:LatencyMs": {{Chosen.InventoryLatencyMs}}, "Inventory:LatencyDistribution": "Fixed", "Inventory:ErrorRate": {{errors}}}"""), cancellationToken);
        // The defect ships, latent at the baseline's load; the fix is the correct path.
        await context.Fleet.ConfigureShopsAsync($$"""{"{{Chosen.DefectSetting}}": {{(phase == Phases.Fixed ? "false" : "true")}}}""", cancellationToken);
        if (phase == Phases.Fixed && !Held)
        {
            // Leaked connections never come back to their pool: the fix takes effect as it would in
            // production, deployed. New replicas (fresh pools, the correct path by default) replace
            // the old ones behind the gateway.
            var old = context.Fleet.Shops.Select(shop => shop.Name).ToList();
            await context.Fleet.AddReplicasAsync(old.Count, cancellationToken);
            foreach (var name in old)
            {
                await context.Fleet.RemoveReplicaAsync(name, cancellationToken);
            }

            // As a deployment would: the new replicas take traffic for a moment (their code compiled,
            // their pools and caches filled) before the fixed phase is measured against the baseline,
            // which ran on warm replicas.
            await WarmAsync(context, Chosen.PeakRate, context.Duration(TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(3)), cancellationToken);
        }
    }

    /// <summary>The variant's own mix at its normal rate, unmeasured, with the correct code: every path the phases take is compiled and every pool open.</summary>
    public override Task WarmUpAsync(ScenarioContext context, CancellationToken cancellationToken) =>
        WarmAsync(context, Chosen.BaselineRate, context.Duration(TimeSpan.FromSeconds(8), TimeSpan.FromSeconds(4)), cancellationToken);

    private async Task WarmAsync(ScenarioContext context, double rate, TimeSpan duration, CancellationToken cancellationToken)
    {
        using var client = context.GatewayClient(RequestTimeout);
        await new LoadGenerator(client, context.Time).RunAsync(new LoadProfile
        {
            Model = LoadModel.Open,
            RatePerSecond = rate,
            Duration = duration,
            RequestTimeout = RequestTimeout,
            Mix = Mix(),
        }, progress: null, cancellationToken);
    }

    public override async Task<PhaseRun> DriveAsync(ScenarioContext context, string phase, CancellationToken cancellationToken)
    {
        var duration = phase == Phases.Baseline
            ? context.Duration(TimeSpan.FromSeconds(15), TimeSpan.FromSeconds(4))
            : context.Duration(TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(6));
        using var client = context.GatewayClient(RequestTimeout);
        var started = context.Time.GetUtcNow();
        var evidence = phase == Phases.Baseline ? Task.CompletedTask
            : context.CaptureDuringAsync(duration * 0.45, token => CaptureAsync(context, phase, token), cancellationToken);
        var load = await new LoadGenerator(client, context.Time).RunAsync(new LoadProfile
        {
            Model = LoadModel.Open,
            RatePerSecond = phase == Phases.Baseline ? Chosen.BaselineRate : Chosen.PeakRate,
            Duration = duration,
            RequestTimeout = RequestTimeout,
            Mix = Mix(),
        }, context.Progress, cancellationToken);
        await evidence;

        var window = Math.Max(2, (int)Math.Ceiling((context.Time.GetUtcNow() - started).TotalSeconds));
        async Task<double> MaxOverPhase(string promql) =>
            await context.Prometheus.QueryScalarAsync($"max_over_time(({promql})[{window}s:1s])", null, cancellationToken) ?? 0;
        var signals = new Dictionary<string, double>
        {
            ["errors"] = load.Total.Errors,
            ["error_rate"] = Math.Round(load.Total.ErrorRate, 4),
            ["p99_ms"] = Math.Round(load.Total.P99Ms, 1),
            ["pool_usage_max"] = Math.Round(await MaxOverPhase(PoolUsage), 3),
            ["pending_requests_max"] = await MaxOverPhase(KeySignal.PromQl),
            ["acquire_timeouts"] = Math.Round(await context.Prometheus.QueryScalarAsync(
                $$"""sum(increase(firedrill_db_connection_wait_time_seconds_count{outcome="timeout"}[{{window}}s])) or vector(0)""", null, cancellationToken) ?? 0),
            [Held ? "idle_in_transaction_max" : "sessions_max"] = await MaxOverPhase(ChartSignals[1].PromQl),
        };
        return new PhaseRun(load, signals);
    }

    private const string PoolUsage =
        """max(db_client_connection_count{service=~"shop-.*", db_client_connection_state="used"} / ignoring(db_client_connection_state) db_client_connection_max{service=~"shop-.*"})""";

    private IReadOnlyList<RequestTemplate> Mix() => Held
        ?
        [
            new RequestTemplate("order", 3, sequence => new HttpRequestMessage(HttpMethod.Post, "/api/orders")
            {
                Content = new StringContent(OrderBody(sequence), Encoding.UTF8, "application/json"),
            }),
            new RequestTemplate("catalog", 1, sequence => new HttpRequestMessage(HttpMethod.Get, $"/api/products/{1 + sequence * 7919 % 1000}")),
        ]
        :
        [
            new RequestTemplate("availability", 2, sequence => new HttpRequestMessage(HttpMethod.Get, $"/api/products/{1 + sequence * 7919 % 1000}/availability")),
            new RequestTemplate("order history", 1, sequence => new HttpRequestMessage(HttpMethod.Get, $"/api/customers/{1 + sequence % 100}/orders")),
            new RequestTemplate("catalog", 1, sequence => new HttpRequestMessage(HttpMethod.Get, $"/api/products/{1 + sequence * 7919 % 1000}")),
        ];

    private static string OrderBody(long sequence) => string.Create(CultureInfo.InvariantCulture,
        $$"""{"customerId": {{1 + sequence % 100}}, "lines": [{"productId": {{1 + sequence * 7919 % 1000}}, "quantity": 1}]}""");

    public override IReadOnlyList<CheckResult> Check(IReadOnlyDictionary<string, PhaseResult> phases)
    {
        var baseline = phases[Phases.Baseline].Signals;
        var broken = phases[Phases.Broken].Signals;
        var fix = phases[Phases.Fixed].Signals;
        // A floor under "2× baseline": a 5 ms baseline must not fail the fix over a GC pause.
        var p99Bound = Math.Round(Math.Max(2 * baseline["p99_ms"], 50), 1);
        return
        [
            Verdict.EqualTo("errors at the normal load", Phases.Baseline, baseline["errors"], 0),
            Verdict.AtLeast("error rate at peak", Phases.Broken, broken["error_rate"], 0.05),
            Verdict.EqualTo("pool usage at its maximum (used ÷ size)", Phases.Broken, broken["pool_usage_max"], 1),
            Verdict.Above("connection acquisitions timed out", Phases.Broken, broken["acquire_timeouts"], 0),
            Verdict.EqualTo("errors", Phases.Fixed, fix["errors"], 0),
            Verdict.AtMost("p99 (ms), within 2× baseline", Phases.Fixed, fix["p99_ms"], p99Bound),
        ];
    }

    private async Task CaptureAsync(ScenarioContext context, string phase, CancellationToken cancellationToken)
    {
        await context.Evidence.PsqlAsync("pg_stat_activity: the run's sessions by state", phase, DatabaseEvidence.SessionsByState, cancellationToken);
        if (phase != Phases.Broken)
        {
            await DatabaseEvidence.PoolMetricsAsync(context, context.Fleet.Shops[0], phase, cancellationToken);
            return;
        }

        // A failed response is caught while the peak lasts, beside the snapshots.
        using var client = context.GatewayClient(RequestTimeout);
        var gateway = context.Fleet.Gateway.Address;
        var catching = FailedResponse.CatchAsync(client, sequence => Held
                ? new HttpRequestMessage(HttpMethod.Post, "/api/orders") { Content = new StringContent(OrderBody(sequence), Encoding.UTF8, "application/json") }
                : new HttpRequestMessage(HttpMethod.Get, $"/api/customers/{1 + sequence % 100}/orders"),
            status => status == HttpStatusCode.ServiceUnavailable, attempts: 80, cancellationToken, parallel: 8,
            // Leaked connections fail requests only once the pool has run dry: keep looking for the rest of the phase.
            spacing: TimeSpan.FromMilliseconds(250), time: context.Time);
        await context.Evidence.PsqlAsync("pg_stat_activity: the run's sessions and their last query", phase, DatabaseEvidence.Sessions, cancellationToken);
        await DatabaseEvidence.PoolMetricsAsync(context, context.Fleet.Shops[0], phase, cancellationToken);
        await DatabaseEvidence.TraceAsync(context, phase, await catching, Held
            ? $"curl -s -X POST {gateway}api/orders -H 'Content-Type: application/json' -d '{OrderBody(0)}'"
            : $"curl -s {gateway}api/customers/1/orders", cancellationToken);
    }
}
