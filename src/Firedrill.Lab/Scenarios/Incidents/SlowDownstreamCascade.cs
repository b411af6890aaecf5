using System.Globalization;
using Firedrill.Lab.Fleet;
using Firedrill.Lab.Load;

namespace Firedrill.Lab.Scenarios.Incidents;

/// <summary>
/// SCENARIOS.md #7. The inventory service turns slow (3 s per call). The shop ships with no
/// timeout and no bulkhead on its inventory client, and one in-flight limit shared by every
/// endpoint; the slow availability calls hold those shared slots, so catalog reads — which
/// never call inventory — queue behind them. The fix bounds the dependency: attempt and total
/// timeouts, a circuit breaker with the "unknown" fallback, and a bulkhead of its own.
/// </summary>
internal sealed class SlowDownstreamCascade : Scenario<SlowDownstreamCascade.Cause>
{
    /// <summary>A variant: the inventory client's timeout as shipped (zero: none).</summary>
    internal sealed record Cause(string Name, string Summary, TimeSpan ShippedTimeout) : ScenarioVariant(Name, Summary);

    private const string Catalog = "catalog";
    private const string Availability = "availability";
    private const double Rate = 40;
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(6);

    public override string Id => "slow-downstream-cascade";

    public override string Title => "One slow dependency takes down the platform";

    protected override IReadOnlyList<Cause> TypedVariants { get; } =
    [
        new("no-timeout", "the inventory client has no timeout at all", TimeSpan.Zero),
        new("timeout-too-long", "a 30 s timeout: it looks guarded, but no caller waits that long", TimeSpan.FromSeconds(30)),
    ];

    public override SignalQuery KeySignal => new(
        "shop requests in flight", """sum(http_server_active_requests{service=~"shop-.*"})""",
        "Requests inside the shop right now: they pile up when slow calls hold the shared slots.");

    public override Runbook Runbook => new(
        "Catalog pages time out although the catalog never calls inventory; only the availability feature depends on it.",
        [
            new("Latency of an unrelated endpoint", """histogram_quantile(0.99, sum by (le) (rate(http_server_request_duration_seconds_bucket{service=~"shop-.*", http_route="/products/{id}"}[5s])))""",
                "Catalog reads are slow too: the problem is shared capacity, not the catalog's query."),
            new("Requests in flight", KeySignal.PromQl, "In-flight requests climb to the shared limit and stay there."),
            new("Outbound call duration", """histogram_quantile(0.99, sum by (le) (rate(http_client_request_duration_seconds_bucket{service=~"shop-.*"}[5s])))""",
                "Calls to inventory take seconds and nothing cuts them short: no timeout."),
            new("Dependency in flight", """sum(firedrill_inventory_in_flight)""", "The inventory service is serving slow calls, one per waiting shop request."),
        ],
        (Chosen.ShippedTimeout == TimeSpan.Zero
            ? "The inventory client has no timeout (InventoryClient:AttemptTimeout and TotalTimeout are 00:00:00)"
            : $"The inventory client's timeout is {Chosen.ShippedTimeout.TotalSeconds:0} s (InventoryClient:AttemptTimeout and TotalTimeout): longer than any caller waits, so it never fires before the caller has given up")
        + ", there is no bulkhead, and every endpoint shares one in-flight limit (Http:MaxConcurrentRequests, Firedrill.Shop/Http/SharedRequestLimit.cs). Slow inventory calls occupy the shared slots for seconds each, so every other request waits in the same queue.",
        "Bound the dependency: attempt and total timeouts inside a circuit breaker, a fallback (availability \"unknown\") where a degraded answer is acceptable, and a bulkhead (InventoryClient:MaxConcurrentCalls) so inventory calls can never take more than their share of the shop's capacity.");

    public override FleetOptions Fleet(FleetOptions defaults) => defaults with
    {
        Replicas = 1,
        ShopSettings = new Dictionary<string, string>(defaults.ShopSettings)
        {
            // As shipped in this incident: one shared limit, an unguarded client.
            ["Http:MaxConcurrentRequests"] = "16",
            ["InventoryClient:TotalTimeout"] = Chosen.ShippedTimeout.ToString("c", CultureInfo.InvariantCulture),
            ["InventoryClient:AttemptTimeout"] = Chosen.ShippedTimeout.ToString("c", CultureInfo.InvariantCulture),
            ["InventoryClient:MaxRetries"] = "0",
            ["InventoryClient:CircuitBreakerEnabled"] = "false",
            ["InventoryClient:MaxConcurrentCalls"] = "0",
            ["Jobs:InventorySyncEnabled"] = "false",
        },
    };

    public override async Task ApplyAsync(ScenarioContext context, string phase, CancellationToken cancellationToken)
    {
        await context.Fleet.Inventory.ConfigureAsync(phase == Phases.Baseline
            ? """{"Inventory:LatencyMs": 0}"""
            : """{"Inventory:LatencyMs": 3000, "Inventory:LatencyDistribution": "Fixed"}""", cancellationToken);
        if (phase == Phases.Fixed)
        {
            await context.Fleet.ConfigureShopsAsync("""
                {
                  "InventoryClient:AttemptTimeout": "00:00:00.250",
                  "InventoryClient:TotalTimeout": "00:00:00.500",
                  "InventoryClient:CircuitBreakerEnabled": true,
                  "InventoryClient:BreakerMinimumThroughput": 5,
                  "InventoryClient:BreakerSamplingDuration": "00:00:05",
                  "InventoryClient:BreakerBreakDuration": "00:00:05",
                  "InventoryClient:MaxConcurrentCalls": 4,
                  "InventoryClient:BulkheadQueueLimit": 0,
                  "InventoryClient:FallbackEnabled": true
                }
                """, cancellationToken);
        }
    }

    public override async Task<PhaseRun> DriveAsync(ScenarioContext context, string phase, CancellationToken cancellationToken)
    {
        var duration = phase == Phases.Baseline
            ? context.Duration(TimeSpan.FromSeconds(15), TimeSpan.FromSeconds(6))
            : context.Duration(TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(8));
        using var client = context.GatewayClient(RequestTimeout);
        var started = context.Time.GetUtcNow();
        // What an engineer looks at while it happens: requests piling up inside the shop, and how
        // long its calls to inventory take, straight from the replica's /metrics.
        var evidence = phase == Phases.Baseline ? Task.CompletedTask : context.CaptureDuringAsync(duration * 0.7, token => CaptureAsync(context, phase, token), cancellationToken);
        var load = await new LoadGenerator(client, context.Time).RunAsync(new LoadProfile
        {
            Model = LoadModel.Open,
            RatePerSecond = Rate,
            Duration = duration,
            RequestTimeout = RequestTimeout,
            Mix =
            [
                new RequestTemplate(Catalog, 3, sequence => new HttpRequestMessage(HttpMethod.Get, $"/api/products/{Product(sequence)}")),
                new RequestTemplate(Availability, 1, sequence => new HttpRequestMessage(HttpMethod.Get, $"/api/products/{Product(sequence)}/availability")),
            ],
        }, context.Progress, cancellationToken);
        await evidence;

        var window = Math.Max(2, (int)Math.Ceiling((context.Time.GetUtcNow() - started).TotalSeconds));
        var signals = new Dictionary<string, double>
        {
            ["catalog_p99_ms"] = Math.Round(load.Endpoints[Catalog].P99Ms, 2),
            ["catalog_error_rate"] = Math.Round(load.Endpoints[Catalog].ErrorRate, 4),
            ["availability_p99_ms"] = Math.Round(load.Endpoints[Availability].P99Ms, 2),
            ["fallback_answers"] = await context.Prometheus.QueryScalarAsync(
                $"sum(increase(firedrill_inventory_fallbacks_total[{window}s]))", null, cancellationToken) ?? 0,
            ["inventory_calls"] = await context.Prometheus.QueryScalarAsync(
                $"sum(increase(firedrill_inventory_requests_total[{window}s]))", null, cancellationToken) ?? 0,
        };
        return new PhaseRun(load, signals);
    }

    public override IReadOnlyList<CheckResult> Check(IReadOnlyDictionary<string, PhaseResult> phases)
    {
        var baseline = phases[Phases.Baseline].Signals["catalog_p99_ms"];
        var broken = phases[Phases.Broken].Signals;
        var fix = phases[Phases.Fixed].Signals;
        // A floor under "2× baseline": a 3 ms baseline must not fail the fix over a GC pause or a
        // busy neighbour (100 ms is still 60 times under the broken phase's 6 s).
        var fixedBound = Math.Max(2 * baseline, 100);
        return
        [
            Verdict.AtLeast("catalog p99 slowdown vs baseline (×)", Phases.Broken, broken["catalog_p99_ms"] / Math.Max(baseline, 1), 10),
            Verdict.AtMost("catalog p99 (ms)", Phases.Fixed, fix["catalog_p99_ms"], Math.Round(fixedBound, 1)),
            Verdict.AtMost("catalog error rate", Phases.Fixed, fix["catalog_error_rate"], 0.001),
            Verdict.AtMost("availability p99 (ms)", Phases.Fixed, fix["availability_p99_ms"], 1000),
            Verdict.Above("availability fallback answers", Phases.Fixed, fix["fallback_answers"], 0),
        ];
    }

    private static async Task CaptureAsync(ScenarioContext context, string phase, CancellationToken cancellationToken)
    {
        var shop = context.Fleet.Shops[0].Address;
        await context.Evidence.ShellAsync("Requests in flight and calls to inventory, from the replica's /metrics", phase,
            $"curl -s {shop}metrics | grep -E '^(http_server_active_requests|http_client_request_duration_seconds_(sum|count))'",
            cancellationToken: cancellationToken);
        await context.Evidence.ShellAsync("Calls the inventory service is serving right now", phase,
            $"curl -s {context.Fleet.Inventory.Address}metrics | grep -E '^firedrill_inventory_(in_flight|queued)'",
            cancellationToken: cancellationToken);
    }

    /// <summary>Spreads reads over the catalogue, deterministically.</summary>
    private static string Product(long sequence) => (1 + sequence * 7919 % 1000).ToString(CultureInfo.InvariantCulture);
}
