using System.Globalization;
using System.Text;
using Firedrill.Lab.Fleet;
using Firedrill.Lab.Load;

namespace Firedrill.Lab.Scenarios.Incidents;

/// <summary>
/// SCENARIOS.md #4. The lab's HPA (the Kubernetes formula on CPU) scales the shop from one replica
/// up to three under a steady arrival of orders for one popular product plus catalogue pages.
/// hot-row: each order locks the product's row (SELECT … FOR UPDATE) and holds it across the call
/// to the inventory service, so orders for it go one at a time whatever the replica count: more
/// replicas only add holders to the lock queue and p99 keeps rising. Fixed: the reservation is
/// made before a short transaction, nothing waits on the row for a network call, and p99 falls.
/// cold-replicas: 80 reads/s; each replica the HPA adds is ready before its warm-up, so users are
/// answered by replicas whose pools, caches and code paths are cold; fixed, readiness waits for it.
/// </summary>
internal sealed partial class AutoscalingNoRelief : Scenario<AutoscalingNoRelief.Cause>
{
    /// <summary>
    /// A variant: the shop setting that is on as shipped and off once fixed, the settings the
    /// variant's fleet needs besides, and its traffic (orders for one hot product, or reads only).
    /// </summary>
    internal sealed record Cause(string Name, string Summary, string ShippedKey, IReadOnlyDictionary<string, string> Settings, bool Orders)
        : ScenarioVariant(Name, Summary);

    private const long HotProduct = 1;
    /// <summary>A little above what one row can take when each order holds it for a 40 ms call (about 22/s): the queue grows slowly.</summary>
    private const double OrdersPerSecond = 26;
    private const double PagesPerSecond = 50;
    private const string Order = "order";
    private const string ProductPage = "catalog page";
    /// <summary>cold-replicas: reads only, enough for the CPU-based HPA to scale one replica to three.</summary>
    private const double ReadsPerSecond = 80;
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(10);
    /// <summary>
    /// A CPU request of 0.1 core (target 50%): at one replica the load is several times the target, so
    /// the first sync asks for the maximum at once, as an HPA does when load jumps; with 0.2 a first
    /// look at a window half-filled by the load sometimes asked for 2, and the second step came late.
    /// </summary>
    private static readonly AutoscalerOptions Hpa = new() { MinReplicas = 1, MaxReplicas = 3, CpuRequestCores = 0.1 };
    /// <summary>--quick: the HPA looks every second at CPU over 2 s (Prometheus scrapes every second), so a phase of 8 s sees its scale-up settle.</summary>
    private static readonly AutoscalerOptions QuickHpa = Hpa with { SyncPeriod = TimeSpan.FromSeconds(1), CpuWindow = TimeSpan.FromSeconds(2) };
    private string _database = ".*";

    public override string Id => "autoscaling-no-relief";

    public override string Title => "More pods, latency still rising";

    protected override IReadOnlyList<Cause> TypedVariants { get; } =
    [
        new("hot-row", "every order holds its product's row lock across the inventory call; more replicas, more holders in the queue",
            "Orders:StockLockedAcrossInventoryCall", WarmSettings, Orders: true),
        new("cold-replicas", "new replicas are ready before their warm-up: each scale-up puts cold replicas in rotation",
            "WarmUp:ReadyBeforeWarmUp", ColdSettings, Orders: false),
    ];

    /// <summary>
    /// cold-replicas' fleet: replicas warm up at start (WarmUpService), the shipped readiness not waiting
    /// for it. 400 requests over the hot read paths: a warm-up of one to two seconds here, as real
    /// services' take seconds (the default 150 are done in under a second on an idle machine, too short a
    /// window to tell a replica put in rotation cold from one that warmed in time). Phases of 15 s in
    /// --quick: fixed, the added replicas start, warm up and still serve a few seconds. With 10 s, on a
    /// slower 2-core machine the replicas added 2 s into the fixed phase were still starting and warming
    /// when it ended (7.4 s to start alone), and answered no user request.
    /// </summary>
    private static readonly Dictionary<string, string> ColdSettings = new() { ["WarmUp:Enabled"] = "true", ["WarmUp:Requests"] = "400" };

    /// <summary>
    /// hot-row's fleet: the replicas the autoscaler adds warm up before they are ready (cold-replicas' fix),
    /// so what the replica count changes is the lock queue alone. With replicas put in rotation cold, on a
    /// slower 2-core machine their first seconds decided the fixed phase's p99 at three replicas (0.4–1.3 s
    /// against 0.1 s at one).
    /// </summary>
    private static readonly Dictionary<string, string> WarmSettings = new() { ["WarmUp:Enabled"] = "true" };

    private bool Cold => !Chosen.Orders;

    public override FleetOptions Fleet(FleetOptions defaults) => defaults with
    {
        Replicas = 1,
        ShopSettings = new Dictionary<string, string>(defaults.ShopSettings.Concat(Chosen.Settings))
        {
            [Chosen.ShippedKey] = "true",
            ["Jobs:InventorySyncEnabled"] = "false",
            // A pool per replica that the shared PostgreSQL (100 connections for every fleet on the
            // machine) can afford at three replicas; each replica still adds its sessions to the queue.
            ["Db:MaxPoolSize"] = "10",
        },
    };

    public override async Task SetupAsync(ScenarioContext context, CancellationToken cancellationToken)
    {
        _database = context.Fleet.Database;
        // A real round trip to the inventory service, as in production: tens of milliseconds.
        await context.Fleet.Inventory.ConfigureAsync("""{"Inventory:LatencyMs": 40, "Inventory:LatencyDistribution": "Fixed"}""", cancellationToken);
    }

    public override async Task ApplyAsync(ScenarioContext context, string phase, CancellationToken cancellationToken)
    {
        // Every phase starts from one replica, as the autoscaler's minimum.
        while (context.Fleet.Shops.Count > 1)
        {
            await context.Fleet.RemoveReplicaAsync(context.Fleet.Shops[^1].Name, cancellationToken);
        }

        if (phase == Phases.Fixed)
        {
            // Deployed: the running replica and every replica the autoscaler starts from now on.
            await context.Fleet.ConfigureShopsAsync($$"""{"{{Chosen.ShippedKey}}": false}""", cancellationToken);
            context.Fleet.SetShopSettings(new Dictionary<string, string> { [Chosen.ShippedKey] = "false" });
        }
    }

    public override async Task WarmUpAsync(ScenarioContext context, CancellationToken cancellationToken)
    {
        // The first replica's code paths and pool, briefly: the phases start from it alone.
        using var client = context.GatewayClient(RequestTimeout);
        await new LoadGenerator(client, context.Time).RunAsync(new LoadProfile
        {
            Model = LoadModel.Open,
            RatePerSecond = 40,
            Duration = context.Duration(TimeSpan.FromSeconds(6), TimeSpan.FromSeconds(2)),
            RequestTimeout = RequestTimeout,
            Mix = Cold ? ReadMix : OrderMix,
        }, progress: null, cancellationToken);
    }

    public override async Task<PhaseRun> DriveAsync(ScenarioContext context, string phase, CancellationToken cancellationToken)
    {
        var baseline = phase == Phases.Baseline;
        var duration = baseline
            ? context.Duration(TimeSpan.FromSeconds(8), TimeSpan.FromSeconds(2))
            : context.Duration(TimeSpan.FromSeconds(25), TimeSpan.FromSeconds(Cold ? 15 : 8));
        var warmReplica = context.Fleet.Shops[0].Name;
        await using var autoscaler = baseline ? null : HorizontalAutoscaler.Start(context.Fleet, context.Prometheus, context.Quick ? QuickHpa : Hpa);
        var replicas = new List<(double Second, int Count)>();
        using var sampling = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var sampler = SampleReplicasAsync(context, replicas, sampling.Token);
        var evidence = phase == Phases.Broken && !Cold
            ? context.CaptureDuringAsync(duration * 0.75, token => CaptureAsync(context, phase, token), cancellationToken)
            : Task.CompletedTask;
        var latencies = new ReplicaLatencies(context.Time);
        using var invoker = new HttpMessageInvoker(latencies, disposeHandler: true);
        var load = await new LoadGenerator(invoker, context.Fleet.Gateway.Address, context.Time).RunAsync(new LoadProfile
        {
            Model = LoadModel.Open,
            RatePerSecond = (baseline ? 0.25 : 1) * (Cold ? ReadsPerSecond : OrdersPerSecond + PagesPerSecond),
            Duration = duration,
            RequestTimeout = RequestTimeout,
            Mix = Cold ? ReadMix : OrderMix,
        }, context.Progress, cancellationToken);
        await sampling.CancelAsync();
        await sampler;
        await evidence;
        if (!baseline)
        {
            await context.Evidence.ShellAsync("The autoscaler's decisions", phase, "cat logs/autoscaler.log", cancellationToken: cancellationToken);
        }

        var top = replicas.Count == 0 ? 1 : replicas.Max(sample => sample.Count);
        var oneUntil = replicas.FirstOrDefault(sample => sample.Count > 1).Second;
        var topFrom = replicas.FirstOrDefault(sample => sample.Count == top).Second;
        var p99One = MeanP99(load, second => second < Math.Max(oneUntil, 1));
        var p99Top = MeanP99(load, second => second >= topFrom);
        var signals = new Dictionary<string, double>
        {
            ["top_replicas"] = top,
            ["p99_one_replica_ms"] = Math.Round(p99One, 1),
            ["p99_top_replicas_ms"] = Math.Round(p99Top, 1),
            ["p99_top_over_one"] = Math.Round(p99Top / Math.Max(p99One, 1), 3),
            ["p99_ms"] = Math.Round(load.Endpoints[Measured].P99Ms, 1),
            ["error_rate"] = Math.Round(load.Endpoints[Measured].ErrorRate, 4),
            ["scaling_decisions"] = autoscaler?.Decisions.Count ?? 0,
        };
        if (Cold && autoscaler is not null)
        {
            await AddColdSignalsAsync(context, phase, latencies, warmReplica, autoscaler.ScaleUps, signals, cancellationToken);
        }

        return new PhaseRun(load, signals);
    }

    public override IReadOnlyList<CheckResult> Check(IReadOnlyDictionary<string, PhaseResult> phases)
    {
        var broken = phases[Phases.Broken].Signals;
        var fix = phases[Phases.Fixed].Signals;
        List<CheckResult> checks =
        [
            Verdict.Above("replicas the autoscaler reached", Phases.Broken, broken["top_replicas"], 1),
            Verdict.Above("replicas the autoscaler reached", Phases.Fixed, fix["top_replicas"], 1),
        ];
        if (Cold)
        {
            // The latency on the replicas just added against the warm one (p99_new_over_warm) is a signal, not a check: in
            // this lab a cold replica's extra latency (tens of ms) is the size of the machine's own noise (AutoscalingNoRelief.Replicas.cs).
            checks.Add(Verdict.AtLeast("user requests served by cold replicas", Phases.Broken, broken["requests_served_cold"], ServedColdAtLeast));
            checks.Add(Verdict.EqualTo("user requests served by cold replicas", Phases.Fixed, fix["requests_served_cold"], 0));
            // Zero served cold counts only if the added replicas did serve: they joined, warm, within the phase.
            checks.Add(Verdict.AtLeast("user requests answered by the replicas just added", Phases.Fixed, fix["answers_new_replicas"], NewReplicasServedAtLeast));
        }
        else
        {
            checks.Add(Verdict.AtLeast("order p99 at the top replica count / at one replica", Phases.Broken, broken["p99_top_over_one"], 1));
            checks.Add(Verdict.AtMost("order p99 at the top replica count (ms)", Phases.Fixed, fix["p99_top_replicas_ms"], 1000));
        }

        return checks;
    }

    private string Measured => Cold ? ProductPage : Order;

    private static IReadOnlyList<RequestTemplate> OrderMix =>
    [
        new(Order, OrdersPerSecond, sequence => new HttpRequestMessage(HttpMethod.Post, "/api/orders")
        {
            Content = new StringContent(string.Create(CultureInfo.InvariantCulture,
                $$"""{"customerId": {{1 + sequence % 100}}, "lines": [{"productId": {{HotProduct}}, "quantity": 1}]}"""), Encoding.UTF8, "application/json"),
        }),
        new("catalog page", PagesPerSecond, sequence => new HttpRequestMessage(HttpMethod.Get,
            string.Create(CultureInfo.InvariantCulture, $"/api/products?page={1 + sequence % 20}&pageSize=50"))),
    ];

    /// <summary>The read paths a warm-up covers: catalogue pages and single products spread over the catalogue (each a cache miss once).</summary>
    private static IReadOnlyList<RequestTemplate> ReadMix =>
    [
        new(ProductPage, ReadsPerSecond * 0.6, sequence => new HttpRequestMessage(HttpMethod.Get,
            string.Create(CultureInfo.InvariantCulture, $"/api/products?page={1 + sequence % 20}&pageSize=50"))),
        new("product", ReadsPerSecond * 0.4, sequence => new HttpRequestMessage(HttpMethod.Get,
            string.Create(CultureInfo.InvariantCulture, $"/api/products/{1 + sequence * 7919 % 1000}"))),
    ];

    /// <summary>The mean of the per-second order p99 over the seconds (of sending) that <paramref name="within"/> selects.</summary>
    private double MeanP99(LoadResult load, Func<double, bool> within)
    {
        var seconds = load.Timeline
            .Where(second => within(second.Second) && second.Endpoints.TryGetValue(Measured, out var measured) && measured.Requests > 0)
            .Select(second => second.Endpoints[Measured].P99Ms).ToList();
        return seconds.Count == 0 ? 0 : seconds.Average();
    }

    private static async Task SampleReplicasAsync(ScenarioContext context, List<(double Second, int Count)> samples, CancellationToken cancellationToken)
    {
        var started = context.Time.GetUtcNow();
        try
        {
            while (true)
            {
                samples.Add(((context.Time.GetUtcNow() - started).TotalSeconds, context.Fleet.Shops.Count(shop => !shop.HasExited)));
                await Task.Delay(TimeSpan.FromMilliseconds(250), context.Time, cancellationToken);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The phase's load is over.
        }
    }

    /// <summary>What a DBA looks at: who waits, on what, behind whom.</summary>
    private static async Task CaptureAsync(ScenarioContext context, string phase, CancellationToken cancellationToken)
    {
        await context.Evidence.PsqlAsync("Sessions of the run's database by wait (pg_stat_activity)", phase,
            "SELECT application_name, state, wait_event_type, wait_event, count(*) AS sessions, max(now() - xact_start) AS oldest_transaction, "
            + "left(min(query), 70) AS query FROM pg_stat_activity WHERE datname = current_database() GROUP BY 1, 2, 3, 4 ORDER BY 5 DESC", cancellationToken);
        await context.Evidence.PsqlAsync("Who blocks whom, and on which row (pg_locks)", phase,
            "SELECT w.pid AS waiting, w.application_name, pg_blocking_pids(w.pid) AS blocked_by, l.locktype, l.mode, l.granted, "
            + "left(w.query, 60) AS query FROM pg_stat_activity w JOIN pg_locks l ON l.pid = w.pid AND NOT l.granted "
            + "WHERE w.datname = current_database() ORDER BY w.query_start LIMIT 15", cancellationToken);
    }
}
