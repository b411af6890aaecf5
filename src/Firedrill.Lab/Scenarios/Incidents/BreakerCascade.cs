using System.Globalization;
using System.Net;
using Firedrill.Lab.Fleet;

namespace Firedrill.Lab.Scenarios.Incidents;

/// <summary>
/// SCENARIOS.md #15. The shop guards its calls to inventory with timeouts, retries, a circuit
/// breaker and a bulkhead, and the storefront's client retries too. Inventory fails for a few
/// seconds (it hangs); each variant is a way the guards let the failure cascade anyway. The lab
/// counts, at inventory, the calls it received per user operation while it was failing, reads the
/// breaker's state from Polly's telemetry, and times how long inventory takes to recover once its
/// fault has ended.
/// </summary>
internal sealed partial class BreakerCascade : Scenario<BreakerCascade.Cause>
{
    /// <summary>
    /// A variant: the shop's settings broken and fixed, the client's retries broken and fixed, the
    /// fault (latency, and which operations it slows), the operations users perform, its checks.
    /// </summary>
    internal sealed record Cause(string Name, string Summary, string Broken, string Fixed, int FaultLatencyMs, string FaultScope,
        IReadOnlyList<string> Operations, ClientRetryPolicy BrokenClient, ClientRetryPolicy FixedClient) : ScenarioVariant(Name, Summary)
    {
        public required string Symptom { get; init; }

        public required string RootCause { get; init; }

        public required string FixText { get; init; }

        public required Func<IReadOnlyDictionary<string, double>, IReadOnlyDictionary<string, double>, IReadOnlyDictionary<string, double>, IReadOnlyList<CheckResult>> Checks { get; init; }

        /// <summary>Shop settings of the whole run, neither the defect nor its fix (a page without a fallback, a pool's size).</summary>
        public IReadOnlyDictionary<string, string> ShopSettings { get; init; } = new Dictionary<string, string>();
    }

    private const double Rate = 25;
    private const int InventoryPermits = 3;
    private static readonly TimeSpan ClientTimeout = TimeSpan.FromMilliseconds(800);
    private static readonly TimeSpan Settle = TimeSpan.FromMilliseconds(500);

    public override string Id => "breaker-cascade";

    public override string Title => "Circuit breakers on, cascades anyway";

    protected override IReadOnlyList<Cause> TypedVariants { get; } = AllCauses();

    public override FleetOptions Fleet(FleetOptions defaults) => defaults with
    {
        Replicas = 1,
        // Inventory as a real service: 40 ms per call, three at a time (75 calls a second: three times the storefront's rate), the rest queued.
        InventorySettings = new Dictionary<string, string>(defaults.InventorySettings)
        {
            ["Inventory:LatencyMs"] = NormalLatencyMs.ToString(CultureInfo.InvariantCulture),
            ["Inventory:MaxConcurrentRequests"] = InventoryPermits.ToString(CultureInfo.InvariantCulture),
            ["Inventory:QueueLimit"] = "1000",
        },
        // The guards every variant has, sized for calls that take 40 ms: the breaker reacts within
        // the lab's few seconds of fault. Each variant's broken setting is applied on top.
        ShopSettings = new Dictionary<string, string>(defaults.ShopSettings)
        {
            ["InventoryClient:AttemptTimeout"] = "00:00:00.250",
            ["InventoryClient:TotalTimeout"] = "00:00:01",
            ["InventoryClient:MaxRetries"] = "2",
            ["InventoryClient:RetryBaseDelay"] = "00:00:00.050",
            ["InventoryClient:BreakerMinimumThroughput"] = "5",
            ["InventoryClient:BreakerSamplingDuration"] = "00:00:02",
            ["InventoryClient:BreakerBreakDuration"] = "00:00:02",
            ["Jobs:InventorySyncEnabled"] = "false",
            ["Db:MaxPoolSize"] = "10",
        }.Concat(Chosen.ShopSettings).ToDictionary(),
    };

    private const int NormalLatencyMs = 40;

    public override async Task ApplyAsync(ScenarioContext context, string phase, CancellationToken cancellationToken)
    {
        await context.Fleet.Inventory.ConfigureAsync(Fault(on: false), cancellationToken);
        if (phase != Phases.Baseline)
        {
            await context.Fleet.ConfigureShopsAsync(phase == Phases.Broken ? Chosen.Broken : Chosen.Fixed, cancellationToken);
        }

        if (phase == Phases.Fixed)
        {
            await WaitForQueriesToDrainAsync(context, cancellationToken);
        }
    }

    /// <summary>
    /// The fixed phase starts once the broken phase's queries have ended (at most 30 s). A clean-clone
    /// suite run on a slow 2-core machine measured 8.5 database-seconds per second in expensive-fallback's
    /// fixed phase, whose fallback is cheap: the broken phase's heavy fallback queries were still running,
    /// their callers long gone (a cancelled command is cancelled over a new connection, which PostgreSQL
    /// forks about 30 of a second there). The evidence keeps how long the wait took.
    /// </summary>
    private static async Task WaitForQueriesToDrainAsync(ScenarioContext context, CancellationToken cancellationToken)
    {
        const string Active = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state = 'active' AND application_name LIKE 'firedrill-shop%'";
        var started = context.Time.GetTimestamp();
        await using var connection = new Npgsql.NpgsqlConnection(context.Fleet.DatabaseConnection);
        await connection.OpenAsync(cancellationToken);
        long active;
        do
        {
            await using var command = new Npgsql.NpgsqlCommand(Active, connection);
            active = (long)(await command.ExecuteScalarAsync(cancellationToken))!;
            if (active > 0)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(250), context.Time, cancellationToken);
            }
        }
        while (active > 0 && context.Time.GetElapsedTime(started) < TimeSpan.FromSeconds(30));

        // The command a user would type to watch the same count; the lab polls it over its own connection.
        context.Evidence.Add("The broken phase's queries drained before the fixed phase", Phases.Fixed, $"{context.Evidence.PsqlCommand} -Atc \"{Active}\"",
            string.Create(CultureInfo.InvariantCulture, $"{active} (polled every 250 ms: {active} still active after {context.Time.GetElapsedTime(started).TotalSeconds:0.0} s)"));
    }

    public override async Task<PhaseRun> DriveAsync(ScenarioContext context, string phase, CancellationToken cancellationToken)
    {
        using var http = context.GatewayClient(TimeSpan.FromSeconds(30));
        var client = new RetryingClient(http, ClientTimeout, Operations(Chosen.Operations));
        var policy = phase == Phases.Fixed ? Chosen.FixedClient : Chosen.BrokenClient;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var users = client.RunAsync(Rate, policy, context.Time, stop.Token);
        var shop = context.Fleet.Shops[0].Client;
        var inventory = context.Fleet.Inventory.Client;

        Window window;
        PoolUse pool;
        double recovery;
        if (phase == Phases.Baseline)
        {
            var start = (Seconds: client.Now, Inventory: await MetricsScrape.ReadAsync(inventory, cancellationToken), Shop: await MetricsScrape.ReadAsync(shop, cancellationToken));
            using var sampling = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var sampled = SamplePoolAsync(shop, context.Time, sampling.Token);
            await Task.Delay(context.Duration(TimeSpan.FromSeconds(8), TimeSpan.FromSeconds(3)), context.Time, cancellationToken);
            await sampling.CancelAsync();
            pool = await sampled;
            window = await WindowAsync(client, inventory, shop, start, cancellationToken);
            recovery = 0;
        }
        else
        {
            await Task.Delay(Settle, context.Time, cancellationToken);
            await context.Fleet.Inventory.ConfigureAsync(Fault(on: true), cancellationToken);
            var evidence = context.CaptureDuringAsync(FaultFor(context) * 0.6, token => CaptureAsync(context, phase, token), cancellationToken);
            // Counted once the retries of the operations begun under the fault have caught up (an
            // operation takes up to three client attempts): the steady state, without the ramp.
            var rampUp = context.Duration(TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(2));
            await Task.Delay(rampUp, context.Time, cancellationToken);
            var start = (Seconds: client.Now, Inventory: await MetricsScrape.ReadAsync(inventory, cancellationToken), Shop: await MetricsScrape.ReadAsync(shop, cancellationToken));
            using var sampling = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var sampled = SamplePoolAsync(shop, context.Time, sampling.Token);
            await Task.Delay(FaultFor(context) - rampUp, context.Time, cancellationToken);
            await sampling.CancelAsync();
            pool = await sampled;
            await context.Fleet.Inventory.ConfigureAsync(Fault(on: false), cancellationToken);
            window = await WindowAsync(client, inventory, shop, start, cancellationToken);
            await evidence;
            recovery = await RecoveryAsync(context, inventory, cancellationToken);
        }

        await stop.CancelAsync();
        await users;
        var records = client.Records;
        var signals = new Dictionary<string, double>
        {
            ["user_operations"] = window.Operations,
            ["inventory_calls"] = window.InventoryCalls,
            ["amplification"] = Math.Round(window.InventoryCalls / Math.Max(window.Operations, 1), 3),
            ["breaker_openings"] = window.BreakerOpenings,
            ["database_seconds_per_second"] = Math.Round(window.DatabaseSeconds / Math.Max(window.Seconds, 0.001), 3),
            ["pool_connections_used"] = Math.Round(pool.Used, 2),
            ["requests_waiting_for_a_connection"] = Math.Round(pool.Waiting, 2),
            ["connection_wait_mean_ms"] = Math.Round(1000 * window.ConnectionWaitSeconds / Math.Max(window.ConnectionWaits, 1), 1),
            ["inventory_recovery_s"] = Math.Round(recovery, 2),
            ["client_retries"] = records.Sum(record => record.Attempts - 1),
        };
        foreach (var name in Chosen.Operations)
        {
            var during = records.Where(record => record.Name == name && window.Contains(record.StartedSeconds)).ToList();
            signals[$"{name}_good_ratio"] = during.Count == 0 ? 0 : Math.Round((double)during.Count(record => record.Good) / during.Count, 4);
            signals[$"{name}_p50_ms"] = during.Count == 0 ? 0 : Math.Round(1000 * during.Select(record => record.EndedSeconds - record.StartedSeconds).Order().ElementAt(during.Count / 2), 1);
        }

        var attempts = client.Attempts;
        foreach (var (name, stats) in attempts.Endpoints)
        {
            signals[$"{name}_p99_ms"] = Math.Round(stats.P99Ms, 1);
        }

        return new PhaseRun(attempts, signals);
    }

    public override IReadOnlyList<CheckResult> Check(IReadOnlyDictionary<string, PhaseResult> phases) =>
        Chosen.Checks(phases[Phases.Baseline].Signals, phases[Phases.Broken].Signals, phases[Phases.Fixed].Signals);

    private static TimeSpan FaultFor(ScenarioContext context) => context.Duration(TimeSpan.FromSeconds(12), TimeSpan.FromSeconds(5));

    /// <summary>A short warm-up of the paths the phases use (the default one is longer than this incident needs).</summary>
    public override async Task WarmUpAsync(ScenarioContext context, CancellationToken cancellationToken)
    {
        using var http = context.GatewayClient(TimeSpan.FromSeconds(10));
        using var stop = new CancellationTokenSource(context.Duration(TimeSpan.FromSeconds(6), TimeSpan.FromSeconds(3)));
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, stop.Token);
        await new RetryingClient(http, TimeSpan.FromSeconds(5), Operations(Chosen.Operations)).RunAsync(Rate, ClientRetryPolicy.Immediate(1), context.Time, linked.Token);
    }

    private string Fault(bool on) => on
        ? $$"""{"Inventory:LatencyMs": {{Chosen.FaultLatencyMs}}, "Inventory:LatencyScope": "{{Chosen.FaultScope}}"}"""
        : $$"""{"Inventory:LatencyMs": {{NormalLatencyMs}}, "Inventory:LatencyScope": "All"}""";

    /// <summary>What was counted over the fault's steady state (in the baseline, the phase): operations started, calls inventory finished, breaker openings, database time, time waited for pooled connections.</summary>
    private static async Task<Window> WindowAsync(RetryingClient client, HttpClient inventory, HttpClient shop,
        (double Seconds, MetricsScrape Inventory, MetricsScrape Shop) start, CancellationToken cancellationToken)
    {
        var (inventoryAfter, shopAfter) = (await MetricsScrape.ReadAsync(inventory, cancellationToken), await MetricsScrape.ReadAsync(shop, cancellationToken));
        var to = client.Now;
        double Delta(MetricsScrape before, MetricsScrape after, string name, params string[] labels) => after.Sum(name, labels) - before.Sum(name, labels);
        return new Window(start.Seconds, to,
            client.StartedBetween(start.Seconds, to),
            Delta(start.Inventory, inventoryAfter, "firedrill_inventory_requests_total"),
            Delta(start.Shop, shopAfter, "resilience_polly_strategy_events_total", "event_name=\"OnCircuitOpened\""),
            Delta(start.Shop, shopAfter, "db_client_operation_duration_seconds_sum"),
            Delta(start.Shop, shopAfter, "firedrill_db_connection_wait_time_seconds_sum"),
            Delta(start.Shop, shopAfter, "firedrill_db_connection_wait_time_seconds_count"));
    }

    /// <summary>
    /// Seconds from the fault's end until inventory is at rest: no more calls queued than it serves
    /// at once, for a whole second (an overloaded inventory queues dozens). A phase that ends first
    /// reports how long it watched.
    /// </summary>
    private static async Task<double> RecoveryAsync(ScenarioContext context, HttpClient inventory, CancellationToken cancellationToken)
    {
        var watch = context.Duration(TimeSpan.FromSeconds(8), TimeSpan.FromSeconds(4.5));
        var started = context.Time.GetTimestamp();
        double? calmSince = null;
        while (context.Time.GetElapsedTime(started) < watch)
        {
            var now = context.Time.GetElapsedTime(started).TotalSeconds;
            var metrics = await MetricsScrape.ReadAsync(inventory, cancellationToken);
            var calm = metrics.Sum("firedrill_inventory_queued") <= InventoryPermits;
            calmSince = calm ? calmSince ?? now : null;
            if (calmSince is { } since && now - since >= 1)
            {
                // The rest of the watch shows the users what recovery looks like.
                var rest = watch - context.Time.GetElapsedTime(started);
                if (rest > TimeSpan.Zero)
                {
                    await Task.Delay(rest, context.Time, cancellationToken);
                }

                return since;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(200), context.Time, cancellationToken);
        }

        return watch.TotalSeconds;
    }

    private async Task CaptureAsync(ScenarioContext context, string phase, CancellationToken cancellationToken)
    {
        await context.Evidence.ShellAsync("Inventory while it is failing: calls served, queued, in flight", phase,
            $"curl -s {context.Fleet.Inventory.Address}metrics | grep -E '^firedrill_inventory_(requests_total|queued|in_flight)'", cancellationToken: cancellationToken);
        await context.Evidence.ShellAsync("The shop's breaker and retries, from Polly's telemetry", phase,
            $"curl -s {context.Fleet.Shops[0].Address}metrics | grep -E '^(firedrill_inventory_breaker_state|resilience_polly_strategy_events_total)'", cancellationToken: cancellationToken);
        if (Chosen.Name == "expensive-fallback")
        {
            await context.Evidence.ShellAsync("The replica's connection pool: connections in use and requests waiting for one", phase,
                $"curl -s {context.Fleet.Shops[0].Address}metrics | grep -E '^(db_client_connection_(count|max|npgsql_pending_requests)|firedrill_db_connection_wait_time_seconds_(sum|count))' | sed -E 's/otel_scope_(name|version)=\"[^\"]*\",?//g'",
                cancellationToken: cancellationToken);
            await context.Evidence.PsqlAsync("What the database is busy with", phase,
                "SELECT state, wait_event_type, left(regexp_replace(query, '\\s+', ' ', 'g'), 70) AS query, count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() GROUP BY 1, 2, 3 ORDER BY 4 DESC LIMIT 8",
                cancellationToken);
        }
    }

    private sealed record Window(double From, double To, int Operations, double InventoryCalls, double BreakerOpenings, double DatabaseSeconds,
        double ConnectionWaitSeconds, double ConnectionWaits)
    {
        public double Seconds => To - From;

        public bool Contains(double seconds) => seconds >= From && seconds < To;
    }

    private static List<ClientOperation> Operations(IReadOnlyList<string> names) => names.Select(name => name switch
    {
        Availability => new ClientOperation(Availability, 5, sequence => new HttpRequestMessage(HttpMethod.Get, $"/api/products/{Product(sequence)}/availability"),
            (status, body) => status == HttpStatusCode.OK && body.Contains("\"status\":\"known\"", StringComparison.Ordinal)),
        Search => new ClientOperation(Search, 5, sequence => new HttpRequestMessage(HttpMethod.Get, $"/api/products?query={Words[sequence % Words.Length]}&pageSize=10"),
            (status, _) => status == HttpStatusCode.OK),
        Order => new ClientOperation(Order, 2, sequence => new HttpRequestMessage(HttpMethod.Post, "/api/orders")
        {
            Content = new StringContent(string.Create(CultureInfo.InvariantCulture, $$"""{"customerId": {{1 + sequence % 100}}, "lines": [{"productId": {{Product(sequence)}}, "quantity": 1}]}"""),
                System.Text.Encoding.UTF8, "application/json"),
        }, (status, _) => status == HttpStatusCode.Created),
        _ => throw new InvalidOperationException($"Unknown operation {name}."),
    }).ToList();

    private const string Availability = "availability";
    private const string Search = "search";
    private const string Order = "order";
    private static readonly string[] Words = ["Kettle", "Lamp", "Chair", "Mug", "Backpack", "Clock", "Bottle", "Notebook", "Speaker", "Scarf"];

    private static string Product(long sequence) => (1 + sequence * 7919 % 1000).ToString(CultureInfo.InvariantCulture);
}
