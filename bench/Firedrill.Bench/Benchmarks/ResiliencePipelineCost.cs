using System.Globalization;
using Firedrill.Bench.Harness;
using Firedrill.Lab.Fleet;

namespace Firedrill.Bench.Benchmarks;

/// <summary>The availability endpoint with the inventory client's resilience pipeline on, and with every guard off.</summary>
internal sealed class ResiliencePipelineCost : IBenchmark
{
    // Below the bulkhead's 32, so no call is ever rejected and both sides do the same work.
    private const int Connections = 16;

    private const string GuardsOff = """
        {"InventoryClient:MaxConcurrentCalls": 0, "InventoryClient:TotalTimeout": "00:00:00", "InventoryClient:MaxRetries": 0,
         "InventoryClient:CircuitBreakerEnabled": false, "InventoryClient:AttemptTimeout": "00:00:00"}
        """;

    private const string GuardsOn = """
        {"InventoryClient:MaxConcurrentCalls": 32, "InventoryClient:TotalTimeout": "00:00:03", "InventoryClient:MaxRetries": 2,
         "InventoryClient:CircuitBreakerEnabled": true, "InventoryClient:AttemptTimeout": "00:00:01"}
        """;

    /// <summary>Each guard alone (the others off), to see where the pipeline's cost goes.</summary>
    private static readonly (string Guard, string Settings)[] SingleGuards =
    [
        ("the bulkhead", """{"InventoryClient:MaxConcurrentCalls": 32}"""),
        ("the two timeouts", """{"InventoryClient:TotalTimeout": "00:00:03", "InventoryClient:AttemptTimeout": "00:00:01"}"""),
        ("the retry", """{"InventoryClient:MaxRetries": 2}"""),
        ("the circuit breaker", """{"InventoryClient:CircuitBreakerEnabled": true}"""),
    ];

    private static readonly string RandomAvailability = $$"""
        request = function()
          return wrk.format(nil, "/products/" .. math.random(1, {{CatalogVsBareAspNet.Products}}) .. "/availability")
        end
        """;

    public string Name => "resilience";

    public string Title => "Resilience pipeline cost";

    public string Method =>
        "`GET /products/{id}/availability` (a cached product plus one HTTP call to the inventory service, which answers at once: no latency, "
        + $"no errors) under `wrk -t1 -c{Connections}`, with the inventory client's pipeline as shipped (bulkhead 32, total timeout 3 s, "
        + "2 retries, circuit breaker, attempt timeout 1 s) and with every guard switched off through `/_lab/config`, interleaved: "
        + "each run is four slices of half the run's length, on, off, off, on (the next run mirrors it), each side's slices added up. "
        + "The bulkhead is never full at this concurrency, and the fallback counter is checked to stay at zero, so both sides do the same work.";

    public async Task<BenchmarkResult> RunAsync(BenchContext context, CancellationToken cancellationToken)
    {
        var result = new BenchmarkResult(Name, Title);
        await using var fleet = await context.StartFleetAsync(Name, 1, cancellationToken, inventory: new Dictionary<string, string> { ["Inventory:LatencyMs"] = "0" });
        var shop = fleet.Shops[0];
        var cpu = new CpuMeter(new Dictionary<string, Func<IEnumerable<int>>>
        {
            ["shop"] = () => [shop.Pid],
            ["inventory"] = () => [fleet.Inventory.Pid],
            ["wrk"] = () => CpuMeter.ByName("wrk"),
        });
        // Both configurations, long enough for tiered compilation to settle.
        BenchContext.Log("  warm-up");
        await Wrk.RunAsync(shop.Address, Connections, BenchContext.WarmUp, RandomAvailability, null, cancellationToken);
        await shop.ConfigureAsync(GuardsOff, cancellationToken);
        await Wrk.RunAsync(shop.Address, Connections, BenchContext.WarmUp / 3, RandomAvailability, null, cancellationToken);

        var onRps = result.Measure("pipeline on: requests/s", "req/s");
        var offRps = result.Measure("pipeline off: requests/s", "req/s");
        var onP99 = result.Measure("pipeline on: p99", "ms");
        var offP99 = result.Measure("pipeline off: p99", "ms");
        var onCpu = result.Measure("shop CPU per request, pipeline on", "µs");
        var offCpu = result.Measure("shop CPU per request, pipeline off", "µs");
        CpuSplit? last = null;
        var fallbacksBefore = await FallbacksAsync(shop, cancellationToken);
        // Each run is four short slices in the order on, off, off, on (the next run mirrors it): the
        // machine drifts by as much as the effect over a few seconds, and interleaving puts that
        // drift on both sides alike.
        var slice = TimeSpan.FromSeconds(Math.Max(2, Math.Round(context.Duration.TotalSeconds / 2)));
        for (var run = 1; run <= context.Runs; run++)
        {
            var (on, off) = await InterleavedAsync(shop, [GuardsOn], [GuardsOff], slice, mirrored: run % 2 == 0, cpu, fleet.Logs, cancellationToken);
            last = on.LastCpu;
            onRps.Add(on.Rps);
            offRps.Add(off.Rps);
            onP99.Add(on.P99Ms);
            offP99.Add(off.P99Ms);
            onCpu.Add(on.ShopMicrosecondsPerRequest);
            offCpu.Add(off.ShopMicrosecondsPerRequest);
            BenchContext.Log($"  run {run}: on {on.Rps:0} req/s, off {off.Rps:0} req/s");
        }

        // Each guard alone, in half-length slices, one interleaved round per run: a rough split of the
        // difference above. A single round is within the machine's noise (it can even come out
        // negative on a busy machine); the median over the runs is what is quoted.
        for (var run = 1; run <= context.Runs; run++)
        {
            foreach (var (guard, settings) in SingleGuards)
            {
                var (on, off) = await InterleavedAsync(shop, [GuardsOff, settings], [GuardsOff], slice / 2, mirrored: run % 2 == 0, cpu, fleet.Logs, cancellationToken);
                var added = on.ShopMicrosecondsPerRequest - off.ShopMicrosecondsPerRequest;
                result.Measure($"shop CPU per request added by {guard} alone", "µs").Add(added);
                BenchContext.Log($"  run {run}: {guard} alone adds {added:0.0} µs per request");
            }
        }

        await shop.ConfigureAsync(GuardsOn, cancellationToken);
        var fallbacks = await FallbacksAsync(shop, cancellationToken) - fallbacksBefore;
        if (fallbacks > 0)
        {
            throw new InvalidOperationException($"{fallbacks} answers were fallbacks: inventory did not answer every call");
        }

        result.AddRatio("requests/s, pipeline on ÷ off", RatioSeries.Of(onRps, offRps), low: 0.95);
        result.Notes.Add($"CPU during the last run with the pipeline on: {last}. Fallback answers during the runs: {fallbacks}.");
        return result;
    }

    /// <summary>
    /// Four slices in the order on, off, off, on (or mirrored), each side's slices added up.
    /// A side is the configuration documents written to <c>/_lab/config</c> in turn before its slice.
    /// </summary>
    private static async Task<(SliceTotals On, SliceTotals Off)> InterleavedAsync(
        ServiceProcess shop, string[] onSettings, string[] offSettings, TimeSpan slice, bool mirrored, CpuMeter cpu, string logs, CancellationToken cancellationToken)
    {
        var on = new SliceTotals();
        var off = new SliceTotals();
        bool[] order = mirrored ? [false, true, true, false] : [true, false, false, true];
        foreach (var pipelineOn in order)
        {
            foreach (var settings in pipelineOn ? onSettings : offSettings)
            {
                await shop.ConfigureAsync(settings, cancellationToken);
            }

            var measured = await Wrk.RunAsync(shop.Address, Connections, slice, RandomAvailability, cpu, cancellationToken);
            if (measured.Non2xx + measured.SocketErrors > 0)
            {
                throw new InvalidOperationException($"errors under load; see {logs}");
            }

            (pipelineOn ? on : off).Add(measured);
        }

        return (on, off);
    }

    /// <summary>One side's slices of a run, added up: requests over seconds, and the shop's CPU over the requests.</summary>
    private sealed class SliceTotals
    {
        private readonly List<double> _p99s = [];
        private long _requests;
        private double _seconds;
        private double _shopCpuMicros;

        public double Rps => _requests / _seconds;

        /// <summary>The slices' p99s, averaged: a p99 cannot be added up.</summary>
        public double P99Ms => _p99s.Average();

        public double ShopMicrosecondsPerRequest => _shopCpuMicros / _requests;

        public CpuSplit? LastCpu { get; private set; }

        public void Add(WrkResult slice)
        {
            LastCpu = slice.Cpu;
            _requests += slice.Requests;
            _seconds += slice.Seconds;
            _p99s.Add(slice.P99Ms);
            _shopCpuMicros += slice.Cpu!.MicrosecondsPer("shop", slice.Rps) * slice.Requests;
        }
    }

    /// <summary>The replica's fallback counter, summed over its label sets, from its Prometheus endpoint.</summary>
    private static async Task<double> FallbacksAsync(ServiceProcess shop, CancellationToken cancellationToken)
    {
        var metrics = await shop.Client.GetStringAsync(new Uri("/metrics", UriKind.Relative), cancellationToken);
        return metrics.Split('\n')
            .Where(line => line.StartsWith("firedrill_inventory_fallbacks_total", StringComparison.Ordinal))
            // name{labels} value [timestamp]
            .Sum(line => double.Parse(line[(line.LastIndexOf('}') + 1)..].Trim().Split(' ')[0], CultureInfo.InvariantCulture));
    }
}
