using System.Globalization;
using Firedrill.Lab.Diagnostics;
using Firedrill.Lab.Fleet;
using Firedrill.Lab.Load;

namespace Firedrill.Lab.Scenarios.Incidents;

/// <summary>
/// SCENARIOS.md #12. One replica serves catalog searches (four users, a fixed number of requests per phase) whose URLs are all different (the
/// front end appends a cache-buster, <c>_=&lt;timestamp&gt;</c>). Broken, every search leaves
/// something behind for good — a page in a static dictionary keyed by the raw query string, or a
/// results view held by an options-change subscription nobody disposes — and the live heap, read
/// after the full collection a heap snapshot makes, climbs with the requests. Fixed, the same
/// traffic: a size-limited MemoryCache with expiration, the subscription disposed with the request.
/// </summary>
internal sealed class MemoryGrowth : Scenario<MemoryGrowth.Cause>
{
    /// <summary>A variant: the setting that breaks it (fixed: the same key, false), the fleet's settings, the type that leaks.</summary>
    internal sealed record Cause(string Name, string Summary, string BrokenSetting, IReadOnlyDictionary<string, string> Fleet, string LeakingType,
        string Defect, string Fix) : ScenarioVariant(Name, Summary);

    private const int Users = 4;
    private const double MiB = 1024 * 1024;
    private static readonly string[] Words = ["lamp", "kettle", "red", "blue", "black"];
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(10);

    public override string Id => "memory-growth";

    public override string Title => "Memory climbs after every deployment";

    protected override IReadOnlyList<Cause> TypedVariants { get; } =
    [
        new("unbounded-cache", "search pages cached in a static dictionary keyed by the raw query string, never evicted",
            "Search:UnboundedCache", new Dictionary<string, string> { ["Search:CacheResults"] = "true" },
            "Firedrill.Shop.Features.Catalog.ProductPage",
            "Search results are cached in a static ConcurrentDictionary keyed by the request's raw query string and never evicted "
            + "(Search:UnboundedCache=true: Firedrill.Shop/Features/Catalog/SearchCache.cs, UnboundedSearchCache.Pages, beside the bounded MemoryCache of "
            + "SearchCache.GetOrSearchAsync). The key is whatever traffic sends — here a cache-buster (_=<timestamp>) — so every search adds a page that lives as long as the process",
            "A bounded cache: MemoryCache with SizeLimit (Search:CacheSizeLimit, each page of size 1) and an absolute expiration (Search:CacheExpiration); "
            + "better still, a key built from the parameters that matter (query, page, pageSize), not the raw URL."),
        new("undisposed-subscription", "each search's results view subscribes to options changes and drops the subscription",
            "Search:LeakOptionsSubscription", new Dictionary<string, string> { ["Search:CacheResults"] = "false" },
            "Firedrill.Shop.Features.Catalog.SearchResultsView",
            "Each search builds a results view that subscribes to IOptionsMonitor<CatalogOptions>.OnChange and drops the IDisposable it returns "
            + "(Search:LeakOptionsSubscription=true: Firedrill.Shop/Features/Catalog/SearchResultsView.cs, WatchWithoutUnsubscribing, beside Watch). "
            + "The options monitor is a singleton: its change callbacks keep every request's view, and the page it holds, reachable forever",
            "Dispose the subscription with the request (SearchResultsView.Watch under `using`, Dispose ends the OnChange registration); a per-request "
            + "object should not subscribe to a long-lived one at all unless it unsubscribes."),
    ];

    public override SignalQuery KeySignal => new(
        "heap after GC (MB)", """sum(dotnet_gc_last_collection_heap_size_bytes{service=~"shop-.*"}) / 1048576""",
        "The managed heap as the last garbage collection left it: what is still reachable, plus what has not been collected yet.");

    public override IReadOnlyList<SignalQuery> ChartSignals =>
    [
        new("working set (MB)", """sum(dotnet_process_memory_working_set_bytes{service=~"shop-.*"}) / 1048576""", "The replica's physical memory."),
    ];

    public override Runbook Runbook => new(
        "The replica's memory climbs with traffic and never comes back down; after enough requests it is OOM-killed or restarted, and it starts climbing again after every deployment.",
        [
            new("Heap after GC (MB)", KeySignal.PromQl, "Rises with the requests and does not fall after collections: something keeps objects reachable."),
            new("Working set (MB)", ChartSignals[0].PromQl, "The process follows the heap up."),
            new("Heap growth per 10k searches (MB)", """(sum(delta(dotnet_gc_last_collection_heap_size_bytes{service=~"shop-.*"}[10s])) / 1048576) / (sum(increase(http_server_request_duration_seconds_count{service=~"shop-.*", http_route="/products/"}[10s])) / 10000)""",
                "Positive and steady when each request leaves something behind; around zero (noisy, it includes young garbage) when memory is flat."),
            new("Gen2 collections (last 10 s)", """sum(increase(dotnet_gc_collections_total{service=~"shop-.*", gc_heap_generation="gen2"}[10s])) or vector(0)""",
                "Full collections run and the heap stays high: the growth is live data, not garbage waiting."),
            new("Allocation rate (MB/s)", """sum(rate(dotnet_gc_heap_total_allocated_bytes_total{service=~"shop-.*"}[10s])) / 1048576""",
                "About the same broken and fixed: the leak is not about allocating more, but about keeping it."),
        ],
        Chosen.Defect + ". Two heap snapshots of the live process (`dotnet-gcdump report -p PID`, each after a full collection) compared by type name the growing type; "
        + "what keeps it alive is the chain from a GC root to it (a static field, or a singleton's event).",
        Chosen.Fix);

    public override FleetOptions Fleet(FleetOptions defaults)
    {
        var settings = new Dictionary<string, string>(defaults.ShopSettings) { ["Jobs:InventorySyncEnabled"] = "false" };
        foreach (var (key, value) in Chosen.Fleet)
        {
            settings[key] = value;
        }

        return defaults with { Replicas = 1, ShopSettings = settings };
    }

    public override Task ApplyAsync(ScenarioContext context, string phase, CancellationToken cancellationToken) =>
        context.Fleet.ConfigureShopsAsync($$"""{"{{Chosen.BrokenSetting}}": {{(phase == Phases.Broken ? "true" : "false")}}}""", cancellationToken);

    public override async Task<PhaseRun> DriveAsync(ScenarioContext context, string phase, CancellationToken cancellationToken)
    {
        // A fixed number of requests from a few users: the slope is per request, and a closed model keeps
        // the requests (and connections) in flight few, so what a snapshot sees is what the requests left behind.
        var requests = phase == Phases.Baseline ? context.Quick ? 800 : 2_000 : context.Quick ? 2_000 : 6_000;
        var shop = context.Fleet.Shops[0];
        var pid = shop.Pid;
        // Snapshots before and after the broken and the fixed load; the broken phase's last is the fixed phase's first.
        var before = phase == Phases.Baseline ? null
            : context.Items.TryGetValue("heap", out var last) ? (Snapshot)last : await SnapshotAsync(pid, cancellationToken);
        using var client = context.GatewayClient(RequestTimeout);
        var load = await new LoadGenerator(client, context.Time).RunAsync(new LoadProfile
        {
            Model = LoadModel.Closed,
            Concurrency = Users,
            MaxRequests = requests,
            Duration = context.Duration(TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(20)),
            RequestTimeout = RequestTimeout,
            Mix = [new RequestTemplate("search", 1, Search)],
        }, context.Progress, cancellationToken);

        var signals = new Dictionary<string, double>();
        if (before is not null)
        {
            // Requests the client gave up on may still be inside the replica: the snapshot waits for them.
            await ServiceMetrics.WaitUntilAsync(shop, "http_server_active_requests", 1, TimeSpan.FromSeconds(15), context.Time, cancellationToken);
            var after = await SnapshotAsync(pid, cancellationToken);
            context.Items["heap"] = after;
            var sent = Math.Max(1, load.Total.Requests);
            var growth = after.Heap.GrowthSince(before.Heap);
            var leaking = growth.FirstOrDefault(type => type.Type == Chosen.LeakingType);
            signals["heap_before_mb"] = Math.Round(before.Heap.Bytes / MiB, 2);
            signals["heap_after_mb"] = Math.Round(after.Heap.Bytes / MiB, 2);
            signals["heap_mb_per_10k_requests"] = Math.Round((after.Heap.Bytes - before.Heap.Bytes) / MiB / sent * 10_000, 2);
            signals["leaking_type_added_per_request"] = Math.Round((leaking?.Count ?? 0) / (double)sent, 3);
            context.Evidence.Add($"Heap growth by type over {sent:N0} requests (two dotnet-gcdump snapshots)", phase,
                $"{after.Command}   # before and after the phase's load; the reports compared by type",
                $"heap {before.Heap.Bytes:N0} -> {after.Heap.Bytes:N0} bytes, objects {before.Heap.Objects:N0} -> {after.Heap.Objects:N0}\n"
                + HeapReport.Table(growth, top: 8));
            // A full run only: the dump (hundreds of MB) and its walk take about ten seconds, beyond --quick's budget.
            if (phase == Phases.Broken && !context.Quick)
            {
                await CaptureRootAsync(context, phase, pid, cancellationToken);
            }
        }

        return new PhaseRun(load, signals);
    }

    public override IReadOnlyList<CheckResult> Check(IReadOnlyDictionary<string, PhaseResult> phases)
    {
        var broken = phases[Phases.Broken].Signals;
        var fix = phases[Phases.Fixed].Signals;
        var type = Chosen.LeakingType[(Chosen.LeakingType.LastIndexOf('.') + 1)..];
        return
        [
            Verdict.AtLeast("heap growth (MB per 10k requests)", Phases.Broken, broken["heap_mb_per_10k_requests"], 5),
            Verdict.AtMost("heap growth (MB per 10k requests)", Phases.Fixed, fix["heap_mb_per_10k_requests"], 2),
            Verdict.AtLeast($"{type} objects added per request (heap diff)", Phases.Broken, broken["leaking_type_added_per_request"], 0.4),
            Verdict.AtMost($"{type} objects added per request (heap diff)", Phases.Fixed, fix["leaking_type_added_per_request"], 0.05),
        ];
    }

    /// <summary>A search as the front end sends it: a few words and pages, and a cache-buster that makes every URL new.</summary>
    private static HttpRequestMessage Search(long sequence) => new(HttpMethod.Get, string.Create(CultureInfo.InvariantCulture,
        $"/api/products?query={Words[sequence % Words.Length]}&page={1 + sequence / Words.Length % 3}&_={1_764_000_000_000 + sequence}"));

    /// <summary>What keeps the leaking type alive: ClrMD's walk from the GC roots of the live replica (suspended for about a second).</summary>
    private async Task CaptureRootAsync(ScenarioContext context, string phase, int pid, CancellationToken cancellationToken)
    {
        var type = Chosen.LeakingType[(Chosen.LeakingType.LastIndexOf('.') + 1)..];
        var command = $"DiagnosticsClient({pid}).WriteDump(WithHeap) + ClrMD DataTarget.LoadDump: the shortest path from a GC root to a {type}"
            + $"   # by hand: dotnet-dump collect -p {pid} --type Heap; dotnet-dump analyze FILE; dumpheap -type {type}; gcroot ADDRESS";
        try
        {
            var folder = context.Fleet.Logs;
            var chain = await Task.Run(() => HeapRoots.PathTo(pid, Chosen.LeakingType, "Firedrill.", folder), cancellationToken);
            context.Evidence.Add($"What keeps {type} alive (path from a GC root)", phase, command, chain);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            context.Evidence.Add($"What keeps {type} alive (path from a GC root)", phase, command, $"the walk failed: {ex.GetType().Name}: {ex.Message}");
        }
    }

    private static async Task<Snapshot> SnapshotAsync(int pid, CancellationToken cancellationToken)
    {
        var output = await DotnetTools.RunAsync(DotnetTools.GcDump, DotnetTools.HeapReport(pid), TimeSpan.FromSeconds(30), cancellationToken);
        if (output.ExitCode != 0)
        {
            throw new InvalidOperationException($"{output.Command} failed: {output.Text}");
        }

        return new Snapshot(output.Command, HeapReport.Parse(output.Stdout));
    }

    private sealed record Snapshot(string Command, HeapReport Heap);
}
