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
        + "2 retries, circuit breaker, attempt timeout 1 s) and with every guard switched off through `/_lab/config`, alternating. "
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
        for (var run = 1; run <= context.Runs; run++)
        {
            // Alternating which goes first, so a drift during the run does not favour one side.
            WrkResult on, off;
            if (run % 2 == 1)
            {
                await shop.ConfigureAsync(GuardsOn, cancellationToken);
                on = await Wrk.RunAsync(shop.Address, Connections, context.Duration, RandomAvailability, cpu, cancellationToken);
                await shop.ConfigureAsync(GuardsOff, cancellationToken);
                off = await Wrk.RunAsync(shop.Address, Connections, context.Duration, RandomAvailability, cpu, cancellationToken);
            }
            else
            {
                await shop.ConfigureAsync(GuardsOff, cancellationToken);
                off = await Wrk.RunAsync(shop.Address, Connections, context.Duration, RandomAvailability, cpu, cancellationToken);
                await shop.ConfigureAsync(GuardsOn, cancellationToken);
                on = await Wrk.RunAsync(shop.Address, Connections, context.Duration, RandomAvailability, cpu, cancellationToken);
            }
            if (on.Non2xx + on.SocketErrors + off.Non2xx + off.SocketErrors > 0)
            {
                throw new InvalidOperationException($"errors under load; see {fleet.Logs}");
            }

            onRps.Add(on.Rps);
            offRps.Add(off.Rps);
            onP99.Add(on.P99Ms);
            offP99.Add(off.P99Ms);
            onCpu.Add(on.Cpu!.MicrosecondsPer("shop", on.Rps));
            offCpu.Add(off.Cpu!.MicrosecondsPer("shop", off.Rps));
            last = on.Cpu;
            BenchContext.Log($"  run {run}: on {on.Rps:0} req/s, off {off.Rps:0} req/s");
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
