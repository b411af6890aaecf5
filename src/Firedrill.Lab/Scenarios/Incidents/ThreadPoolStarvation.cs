using System.Diagnostics;
using System.Globalization;
using Firedrill.Lab.Diagnostics;
using Firedrill.Lab.Fleet;
using Firedrill.Lab.Load;

namespace Firedrill.Lab.Scenarios.Incidents;

/// <summary>
/// SCENARIOS.md #14. One replica, a steady open-model load, inventory answering in tens of
/// milliseconds. Broken, pool threads block on that I/O — a request path that waits on the
/// inventory call (sync-over-async), or a background refresh queued per read with Task.Run
/// around a synchronous wait — and a cold pool, hit by the load, stalls for seconds while it
/// adds threads one by one; CPU stays low throughout. Fixed, the same load at the same rate:
/// the lookup awaited, the refreshes drained by two asynchronous workers from a bounded channel.
/// </summary>
internal sealed class ThreadPoolStarvation : Scenario<ThreadPoolStarvation.Cause>
{
    /// <summary>
    /// A variant: the path the load takes, the setting that breaks it (fixed: the same key, false),
    /// the fleet's settings around it, the inventory latency and the rate.
    /// </summary>
    internal sealed record Cause(string Name, string Summary, string Path, string BrokenSetting, IReadOnlyDictionary<string, string> Fleet,
        int InventoryLatencyMs, double Rate, string Defect, string Fix) : ScenarioVariant(Name, Summary);

    private const string Shop = "shop-1";
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(20);

    public override string Id => "thread-pool-starvation";

    public override string Title => "Pools exhausted, CPU stable";

    protected override IReadOnlyList<Cause> TypedVariants { get; } =
    [
        new("sync-over-async", "the availability endpoint blocks on the inventory call (GetAwaiter().GetResult())",
            "availability", "Availability:BlockingInventoryLookup", new Dictionary<string, string>(), 100, 200,
            "The availability endpoint waits synchronously on the inventory call (Availability:BlockingInventoryLookup=true: "
            + "Firedrill.Shop/Features/Catalog/AvailabilityLookup.cs, BlockingInventoryLookup, beside the awaited LookUpAsync). Each request holds a "
            + "pool thread while the call's own continuation waits in the pool's queue for another thread",
            "Async all the way: await the inventory call (AvailabilityLookup.LookUpAsync); a request then holds no thread while it waits."),
        new("blocking-background-work", "each product read queues Task.Run around a synchronous wait on the shared pool",
            "catalog", "Availability:RefreshOnSharedPool", new Dictionary<string, string> { ["Availability:StockBadges"] = "true" }, 300, 150,
            "Each product read queues its stock-badge refresh on the shared thread pool with Task.Run around a synchronous wait on inventory "
            + "(Availability:RefreshOnSharedPool=true: Firedrill.Shop/Features/Catalog/StockBadges.cs, SharedPoolRefresh/BlockingRefresh). The reads "
            + "themselves are asynchronous, but their continuations queue behind blocked refreshes",
            "Blocking work off the shared pool, bounded: the refreshes go through a bounded Channel (oldest dropped when full) drained by a fixed "
            + "number of workers that await the call (StockBadges.RequestRefresh and WorkAsync, Availability:RefreshWorkers)."),
    ];

    public override SignalQuery KeySignal => new(
        "thread-pool threads", """max(dotnet_thread_pool_thread_count_total{service=~"shop-.*"})""",
        "Threads in the replica's thread pool: they climb one by one while blocked threads pile up.");

    public override IReadOnlyList<SignalQuery> ChartSignals =>
    [
        new("thread-pool queue length", """max(dotnet_thread_pool_queue_length_total{service=~"shop-.*"})""",
            "Work items waiting for a pool thread (the replica's /metrics itself waits in that queue, so gaps mean it could not answer)."),
    ];

    public override Runbook Runbook => new(
        "Latency jumps to seconds under a burst and recovers only slowly, although CPU is low and the database and inventory are fast; the replica's own /metrics stops answering for a while.",
        [
            new("Thread-pool threads", KeySignal.PromQl, "Far more threads than cores, and climbing: the pool keeps adding threads because the ones it has are blocked."),
            new("Thread-pool queue length (max over 10 s)", """max(max_over_time(dotnet_thread_pool_queue_length_total{service=~"shop-.*"}[10s]))""",
                "Work waiting for a thread: requests, and the continuations that would unblock the waiting threads."),
            // Rates over 10 s, or over 30 s when a starved replica answered fewer than two scrapes in the last 10 s
            // (a suite run on a slow 2-core machine found the 10 s CPU rate empty at the broken phase's end).
            new("Replica CPU (cores)", """sum(rate(dotnet_process_cpu_time_seconds_total{service=~"shop-.*"}[10s])) or sum(rate(dotnet_process_cpu_time_seconds_total{service=~"shop-.*"}[30s]))""",
                "Low: the threads are waiting, not working. Slow and idle at once means blocked threads, not too little CPU. Over 30 s when the replica missed too many scrapes for 10 s."),
            new("Server-side p99 of the catalog (s)", """histogram_quantile(0.99, sum by (le) (rate(http_server_request_duration_seconds_bucket{service=~"shop-.*", http_route=~"/products.*"}[10s]))) or histogram_quantile(0.99, sum by (le) (rate(http_server_request_duration_seconds_bucket{service=~"shop-.*", http_route=~"/products.*"}[30s])))""",
                "Requests take seconds inside the replica although every dependency answers in milliseconds. Over 30 s when the replica missed too many scrapes for 10 s."),
            new("Scrapes the replica missed (last 10 s)", """sum(count_over_time(up{service=~"shop-.*"}[10s])) - sum(sum_over_time(up{service=~"shop-.*"}[10s]))""",
                "Even /metrics, which does no I/O, waits for a pool thread: Prometheus's scrapes time out."),
        ],
        Chosen.Defect + ". A cold pool has about one thread per core; under a burst every thread ends up waiting, and the pool adds threads only gradually "
        + "(hill climbing, plus faster injection when it sees threads blocked on tasks), so requests queue for seconds until there are as many threads as waiting calls. "
        + "`dotnet-stack report -p PID` shows most threads parked in Task.InternalWait / GetResult under the shop's own frame.",
        Chosen.Fix + " Raising the minimum thread count (ThreadPool.SetMinThreads, or DOTNET_ThreadPool_MinThreads) is a mitigation, not the fix: it pre-pays "
        + "for threads that do nothing but wait (each with its stack, and context switches among them), the number that suffices grows with latency times traffic, "
        + "so the next slower dependency or larger burst starves the pool again, and the code still wastes a thread per waiting call.");

    public override FleetOptions Fleet(FleetOptions defaults)
    {
        var settings = new Dictionary<string, string>(defaults.ShopSettings) { ["Jobs:InventorySyncEnabled"] = "false" };
        foreach (var (key, value) in Chosen.Fleet)
        {
            settings[key] = value;
        }

        return defaults with { Replicas = 1, ShopSettings = settings };
    }

    public override async Task ApplyAsync(ScenarioContext context, string phase, CancellationToken cancellationToken)
    {
        await context.Fleet.Inventory.ConfigureAsync($$"""{"Inventory:LatencyMs": {{Chosen.InventoryLatencyMs}}, "Inventory:LatencyDistribution": "Fixed"}""", cancellationToken);
        await context.Fleet.ConfigureShopsAsync($$"""{"{{Chosen.BrokenSetting}}": {{(phase == Phases.Broken ? "true" : "false")}}}""", cancellationToken);
        if (phase == Phases.Fixed)
        {
            // The fix is judged on its own: blocked work the broken phase queued must be done first.
            await ServiceMetrics.WaitUntilAsync(context.Fleet.Shops[0], "dotnet_thread_pool_queue_length_total", 0, TimeSpan.FromSeconds(20), context.Time, cancellationToken);
        }
    }


    public override async Task<PhaseRun> DriveAsync(ScenarioContext context, string phase, CancellationToken cancellationToken)
    {
        var duration = phase switch
        {
            Phases.Baseline => context.Duration(TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(4)),
            Phases.Broken => context.Duration(TimeSpan.FromSeconds(20), TimeSpan.FromSeconds(10)),
            _ => context.Duration(TimeSpan.FromSeconds(15), TimeSpan.FromSeconds(6)),
        };
        var shop = context.Fleet.Shops[0];
        using var client = context.GatewayClient(RequestTimeout);
        var cpuBefore = LiveProcess.CpuTime(shop.Pid);
        var started = Stopwatch.GetTimestamp();
        // Threads are caught while the burst has them: a second into the broken phase, as the stall can be over in two (and at the same moment when fixed, to compare).
        var evidence = phase == Phases.Baseline ? Task.CompletedTask
            : context.CaptureDuringAsync(TimeSpan.FromSeconds(1), token => CaptureStacksAsync(context, phase, shop.Pid, token), cancellationToken);
        var load = await new LoadGenerator(client, context.Time).RunAsync(new LoadProfile
        {
            Model = LoadModel.Open,
            RatePerSecond = Chosen.Rate,
            Duration = duration,
            RequestTimeout = RequestTimeout,
            Mix = [new RequestTemplate(Chosen.Path, 1, Request)],
        }, context.Progress, cancellationToken);
        var elapsed = Stopwatch.GetElapsedTime(started);
        await evidence;

        var window = Math.Max(2, (int)Math.Ceiling(elapsed.TotalSeconds));
        var signals = new Dictionary<string, double>
        {
            ["p99_ms"] = Math.Round(load.Total.P99Ms, 1),
            // The replica's own CPU, from the operating system: a starved replica cannot answer its /metrics.
            ["shop_cpu_share"] = Math.Round((LiveProcess.CpuTime(shop.Pid) - cpuBefore) / elapsed / Environment.ProcessorCount, 3),
            ["max_pool_threads"] = await context.Prometheus.QueryScalarAsync(
                $$"""max(max_over_time(dotnet_thread_pool_thread_count_total{service="{{Shop}}"}[{{window}}s]))""", null, cancellationToken) ?? 0,
            ["max_queue_length"] = await context.Prometheus.QueryScalarAsync(
                $$"""max(max_over_time(dotnet_thread_pool_queue_length_total{service="{{Shop}}"}[{{window}}s]))""", null, cancellationToken) ?? 0,
        };
        return new PhaseRun(load, signals);
    }

    public override IReadOnlyList<CheckResult> Check(IReadOnlyDictionary<string, PhaseResult> phases)
    {
        var broken = phases[Phases.Broken].Signals;
        var fix = phases[Phases.Fixed].Signals;
        return
        [
            Verdict.AtLeast("p99 broken vs fixed at the same load (×)", Phases.Broken, Math.Round(broken["p99_ms"] / Math.Max(fix["p99_ms"], 1), 2), 10),
            Verdict.AtMost("replica CPU (share of the machine's cores)", Phases.Broken, broken["shop_cpu_share"], 0.5),
            Verdict.AtMost("replica CPU (share of the machine's cores)", Phases.Fixed, fix["shop_cpu_share"], 0.5),
        ];
    }

    private HttpRequestMessage Request(long sequence)
    {
        var product = (1 + sequence * 7919 % 1000).ToString(CultureInfo.InvariantCulture);
        return new HttpRequestMessage(HttpMethod.Get, Chosen.Path == "availability" ? $"/api/products/{product}/availability" : $"/api/products/{product}");
    }

    /// <summary><c>dotnet-stack report</c> of the live replica, summarised as threads grouped by the frame they wait in.</summary>
    private static async Task CaptureStacksAsync(ScenarioContext context, string phase, int pid, CancellationToken cancellationToken)
    {
        var output = await DotnetTools.RunAsync(DotnetTools.Stack, DotnetTools.StackReport(pid), TimeSpan.FromSeconds(20), cancellationToken);
        var report = StackReport.Parse(output.Stdout);
        if (report.Threads.Count == 0)
        {
            // Seen once on a loaded machine: the tool ended without a stack. An engineer would run it again.
            output = await DotnetTools.RunAsync(DotnetTools.Stack, DotnetTools.StackReport(pid), TimeSpan.FromSeconds(20), cancellationToken);
            report = StackReport.Parse(output.Stdout);
        }

        var groups = report.GroupByBlockingFrame("Firedrill.");
        // One thread of the largest group the shop's own code blocked, in full: the chain an engineer reads.
        var blocked = groups.FirstOrDefault(group => group.OwnFrame.StartsWith("Firedrill.Shop.Features.Catalog.", StringComparison.Ordinal));
        var sample = blocked is null ? null : report.Threads.FirstOrDefault(frames => frames.Contains(blocked.OwnFrame) && frames.Contains(blocked.TopFrame));
        var text = StackReport.Table(groups, report.Threads.Count)
            + (sample is null ? "" : $"\n\nOne of the {blocked!.Threads} threads blocked under {blocked.OwnFrame}, top 12 frames:\n  " + string.Join("\n  ", sample.Take(12)));
        context.Evidence.Add("Threads grouped by blocking frame (dotnet-stack)", phase, output.Command,
            output.ExitCode == 0 && report.Threads.Count > 0 ? text : output.Text);
    }
}
