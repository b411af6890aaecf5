using Firedrill.Bench.Harness;
using Firedrill.Lab.Fleet;

namespace Firedrill.Bench.Benchmarks;

/// <summary>GET /products/{id} answered from the shop's cache, against bare ASP.NET Core writing the same JSON.</summary>
internal sealed class CatalogVsBareAspNet : IBenchmark
{
    internal const int Connections = 64;
    internal const int Products = 1000;

    /// <summary>A random product of the seeded thousand per request, so the cache serves many keys, not one.</summary>
    internal static readonly string RandomProduct = $$"""
        request = function()
          return wrk.format(nil, "/products/" .. math.random(1, {{Products}}))
        end
        """;

    public string Name => "catalog";

    public string Title => "Catalog cache hit vs bare ASP.NET Core";

    public string Method =>
        $"`GET /products/{{id}}` for a random id of the {Products} seeded products, every one already in the replica's in-memory cache "
        + "(HybridCache L1, Redis L2 behind it), with everything the shop carries: OpenTelemetry metrics and traces, JSON logs, problem details, "
        + "health checks, lab control. The reference is a bare ASP.NET Core app (`bench/Firedrill.Bench.Bare`, `WebApplication.CreateBuilder`, "
        + $"one minimal-API endpoint, logging at Warning) serializing a record of the same shape and values per request. Both under `wrk -t1 -c{Connections}`.";

    public async Task<BenchmarkResult> RunAsync(BenchContext context, CancellationToken cancellationToken)
    {
        var result = new BenchmarkResult(Name, Title);
        await using var fleet = await context.StartFleetAsync(Name, 1, cancellationToken);
        var shop = fleet.Shops[0];
        var product = await shop.Client.GetStringAsync(new Uri("/products/1", UriKind.Relative), cancellationToken);
        await using var bare = ServiceProcess.Start("bare", "Firedrill.Bench.Bare", fleet.Logs, fleet.Token, new Dictionary<string, string> { ["Bare:Product"] = product });
        await bare.WaitReadyAsync(cancellationToken);
        var bareProduct = await bare.Client.GetStringAsync(new Uri("/products/1", UriKind.Relative), cancellationToken);
        if (bareProduct != product)
        {
            throw new InvalidOperationException($"the bare app's JSON differs from the shop's: {bareProduct} vs {product}");
        }

        var cpu = new CpuMeter(new Dictionary<string, Func<IEnumerable<int>>>
        {
            ["shop"] = () => [shop.Pid],
            ["bare"] = () => [bare.Pid],
            ["wrk"] = () => CpuMeter.ByName("wrk"),
            ["redis"] = () => CpuMeter.ByName("redis-server"),
            ["postgres"] = CpuMeter.Postgres,
        });
        BenchContext.Log("  warm-up (fills the cache with every product)");
        await Wrk.RunAsync(shop.Address, Connections, BenchContext.WarmUp, RandomProduct, null, cancellationToken);
        await Wrk.RunAsync(bare.Address, Connections, BenchContext.WarmUp / 3, RandomProduct, null, cancellationToken);

        var shopRps = result.Measure("shop: products/s", "req/s");
        var bareRps = result.Measure("bare ASP.NET Core: products/s", "req/s");
        var shopP99 = result.Measure("shop: p99", "ms");
        var bareP99 = result.Measure("bare: p99", "ms");
        var shopCpu = result.Measure("shop CPU per request", "µs");
        var bareCpu = result.Measure("bare CPU per request", "µs");
        var wrkCpu = result.Measure("wrk CPU per request", "µs");
        CpuSplit? lastShop = null, lastBare = null;
        for (var run = 1; run <= context.Runs; run++)
        {
            var s = await Wrk.RunAsync(shop.Address, Connections, context.Duration, RandomProduct, cpu, cancellationToken);
            var b = await Wrk.RunAsync(bare.Address, Connections, context.Duration, RandomProduct, cpu, cancellationToken);
            if (s.Non2xx + s.SocketErrors + b.Non2xx + b.SocketErrors > 0)
            {
                throw new InvalidOperationException($"errors under load: shop {s.Non2xx}+{s.SocketErrors}, bare {b.Non2xx}+{b.SocketErrors}; see {fleet.Logs}");
            }

            shopRps.Add(s.Rps);
            bareRps.Add(b.Rps);
            shopP99.Add(s.P99Ms);
            bareP99.Add(b.P99Ms);
            shopCpu.Add(s.Cpu!.MicrosecondsPer("shop", s.Rps));
            bareCpu.Add(b.Cpu!.MicrosecondsPer("bare", b.Rps));
            wrkCpu.Add(s.Cpu.MicrosecondsPer("wrk", s.Rps));
            (lastShop, lastBare) = (s.Cpu, b.Cpu);
            BenchContext.Log($"  run {run}: shop {s.Rps:0} req/s, bare {b.Rps:0} req/s");
        }

        result.AddRatio("shop ÷ bare, products/s", RatioSeries.Of(shopRps, bareRps), low: 0.70);
        result.Notes.Add($"CPU during the last run, shop side: {lastShop}. Bare side: {lastBare}.");
        return result;
    }
}
