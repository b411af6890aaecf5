using System.Globalization;
using System.Text.Json;
using Firedrill.Bench.Harness;
using Firedrill.Lab.Fleet;
using Firedrill.Lab.Load;

namespace Firedrill.Bench.Benchmarks;

/// <summary><c>firedrill load</c> (the lab's generator, as its own process) against wrk on the same endpoint.</summary>
internal sealed class LoadGeneratorVsWrk : IBenchmark
{
    private const int SaturatingConnections = 64;
    private const string Path = "/products/1";

    // Each `firedrill load` is a new process: its own warm-up (sent, not recorded) takes the JIT out of the numbers, as wrk has none.
    private const int WarmupSeconds = 5;

    public string Name => "loadgen";

    public string Title => "Load generator vs wrk";

    public string Method =>
        $"Both tools against the bare ASP.NET Core app's `GET {Path}` (the cheapest endpoint here, so the tool is the limit). "
        + $"Maximum rate: `firedrill load --concurrency {SaturatingConnections}` (closed model) against `wrk -t1 -c{SaturatingConnections}`. "
        + "Latency at a fixed rate below saturation: wrk has no fixed-rate mode, so one wrk connection pauses 1 ms after every answer "
        + "(its `delay()` hook), one request at a time at a steady rate; then `firedrill load --rate R` (open model, latency counted from "
        + "the intended send time) offers the rate R wrk achieved. Each `firedrill load` is a new process and runs "
        + $"{WarmupSeconds} s of the same load first, unrecorded (`--warmup`). The floor of a .NET client at that pace: "
        + "`bench/Firedrill.Bench.Probe`, one connection, one request at a time, 1 ms after each answer, through HttpClient "
        + "and through a blocking socket with no HttpClient, each in its own process with the socket settings `firedrill load` uses.";

    public async Task<BenchmarkResult> RunAsync(BenchContext context, CancellationToken cancellationToken)
    {
        var result = new BenchmarkResult(Name, Title);
        var logs = System.IO.Path.Combine(context.RunFolder, Name);
        Directory.CreateDirectory(logs);
        await using var bare = ServiceProcess.Start("bare", "Firedrill.Bench.Bare", logs, "unused", new Dictionary<string, string>());
        await bare.WaitReadyAsync(cancellationToken);
        var url = new Uri(bare.Address, Path);
        var cpu = new CpuMeter(new Dictionary<string, Func<IEnumerable<int>>>
        {
            ["bare"] = () => [bare.Pid],
            ["wrk"] = () => CpuMeter.ByName("wrk"),
            ["firedrill load"] = () => FiredrillLoadPids(),
        });
        BenchContext.Log("  warm-up");
        await Wrk.RunAsync(url, SaturatingConnections, TimeSpan.FromSeconds(3), null, null, cancellationToken);
        await FiredrillLoadAsync(bare.Address, ["--concurrency", SaturatingConnections.ToString(CultureInfo.InvariantCulture)], TimeSpan.FromSeconds(3), null, cancellationToken);

        var loadMax = result.Measure("firedrill load: maximum requests/s", "req/s");
        var wrkMax = result.Measure("wrk: maximum requests/s", "req/s");
        var loadCpu = result.Measure("firedrill load CPU per request", "µs");
        var wrkCpu = result.Measure("wrk CPU per request", "µs");
        var loadRate = result.Measure("firedrill load: achieved fixed rate", "req/s");
        var wrkRate = result.Measure("wrk (paced): achieved rate", "req/s");
        var loadP50 = result.Measure("firedrill load: p50 at the fixed rate", "ms");
        var wrkP50 = result.Measure("wrk: p50 at the fixed rate", "ms");
        var loadP99 = result.Measure("firedrill load: p99 at the fixed rate", "ms");
        var wrkP99 = result.Measure("wrk: p99 at the fixed rate", "ms");
        var httpP50 = result.Measure(".NET floor, HttpClient one at a time: p50", "ms");
        var httpP99 = result.Measure(".NET floor, HttpClient one at a time: p99", "ms");
        var socketP50 = result.Measure(".NET floor, blocking socket one at a time: p50", "ms");
        var socketP99 = result.Measure(".NET floor, blocking socket one at a time: p99", "ms");
        CpuSplit? lastLoad = null, lastWrk = null;
        for (var run = 1; run <= context.Runs; run++)
        {
            var (load, loadSplit) = await FiredrillLoadAsync(bare.Address, ["--concurrency", SaturatingConnections.ToString(CultureInfo.InvariantCulture)], context.Duration, cpu, cancellationToken);
            var wrk = await Wrk.RunAsync(url, SaturatingConnections, context.Duration, null, cpu, cancellationToken);
            loadMax.Add(load.Rps);
            wrkMax.Add(wrk.Rps);
            loadCpu.Add(loadSplit!.MicrosecondsPer("firedrill load", load.Rps));
            wrkCpu.Add(wrk.Cpu!.MicrosecondsPer("wrk", wrk.Rps));
            (lastLoad, lastWrk) = (loadSplit, wrk.Cpu);

            // wrk has no fixed-rate mode: one connection pausing 1 ms after each answer gives a steady rate
            // below saturation, one request at a time; the generator then offers that same rate (open model).
            var pacedWrk = await Wrk.RunAsync(url, 1, context.Duration, Wrk.PacedScript(1), null, cancellationToken);
            var rate = Math.Round(pacedWrk.Rps).ToString(CultureInfo.InvariantCulture);
            var (paced, _) = await FiredrillLoadAsync(bare.Address, ["--rate", rate], context.Duration, null, cancellationToken);
            loadRate.Add(paced.Rps);
            wrkRate.Add(pacedWrk.Rps);
            loadP50.Add(paced.Total.P50Ms);
            wrkP50.Add(pacedWrk.P50Ms);
            loadP99.Add(paced.Total.P99Ms);
            wrkP99.Add(pacedWrk.P99Ms);

            // The floor of any .NET client here, paced as wrk is: what the runtime costs, with no generator around it.
            var http = await ProbeAsync("http", url, context.Duration, cancellationToken);
            var socket = await ProbeAsync("socket", url, context.Duration, cancellationToken);
            httpP50.Add(http.P50Ms);
            httpP99.Add(http.P99Ms);
            socketP50.Add(socket.P50Ms);
            socketP99.Add(socket.P99Ms);
            BenchContext.Log($"  run {run}: max {load.Rps:0} vs wrk {wrk.Rps:0} req/s; at {rate}/s p50 {paced.Total.P50Ms:0.000} vs {pacedWrk.P50Ms:0.000} ms, p99 {paced.Total.P99Ms:0.000} vs {pacedWrk.P99Ms:0.000} ms"
                + $" (.NET floor p50 {http.P50Ms:0.000}/{socket.P50Ms:0.000}, p99 {http.P99Ms:0.000}/{socket.P99Ms:0.000} ms)");
        }

        result.AddRatio("maximum requests/s, firedrill load ÷ wrk", RatioSeries.Of(loadMax, wrkMax), low: 0.80);
        result.AddRatio("p50 at a fixed rate, firedrill load ÷ wrk", RatioSeries.Of(loadP50, wrkP50), low: 0.85, high: 1.15);
        result.AddRatio("p99 at a fixed rate, firedrill load ÷ wrk", RatioSeries.Of(loadP99, wrkP99), low: 0.85, high: 1.15);
        // Where a gap to wrk comes from: the client library and runtime (the floor against wrk), or the generator (itself against the floor).
        result.AddRatio("p50 at a fixed rate, .NET floor (HttpClient) ÷ wrk", RatioSeries.Of(httpP50, wrkP50));
        result.AddRatio("p99 at a fixed rate, .NET floor (HttpClient) ÷ wrk", RatioSeries.Of(httpP99, wrkP99));
        result.AddRatio("p50 at a fixed rate, firedrill load ÷ .NET floor (HttpClient)", RatioSeries.Of(loadP50, httpP50));
        result.AddRatio("p99 at a fixed rate, firedrill load ÷ .NET floor (HttpClient)", RatioSeries.Of(loadP99, httpP99));
        result.Notes.Add($"CPU during the last maximum-rate run, firedrill load: {lastLoad}. wrk: {lastWrk}.");
        return result;
    }

    /// <summary>Runs <c>firedrill load</c> as its own process, from the lab's build output, and reads its JSON result.</summary>
    private static async Task<(LoadResult Result, CpuSplit? Cpu)> FiredrillLoadAsync(Uri address, string[] model, TimeSpan duration, CpuMeter? cpu, CancellationToken cancellationToken)
    {
        var json = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"firedrill-load-{Guid.NewGuid():N}.json");
        try
        {
            // The lab's own build output, beside this one: artifacts/bin/Firedrill.Lab/release/firedrill.dll.
            var mine = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(System.IO.Path.DirectorySeparatorChar));
            var lab = System.IO.Path.Combine(mine.Parent!.Parent!.FullName, "Firedrill.Lab", mine.Name, "firedrill.dll");
            var output = await Tool.RunAsync("dotnet",
                [lab, "load", "--url", address.ToString(), "--path", Path, .. model, "--duration", ((int)duration.TotalSeconds).ToString(CultureInfo.InvariantCulture),
                    "--warmup", WarmupSeconds.ToString(CultureInfo.InvariantCulture), "--json", json],
                duration, cpu, cancellationToken, warmup: TimeSpan.FromSeconds(WarmupSeconds));
            await using var stream = File.OpenRead(json);
            var result = await JsonSerializer.DeserializeAsync<LoadResult>(stream, JsonSerializerOptions.Web, cancellationToken)
                ?? throw new InvalidOperationException("firedrill load wrote no result");
            if (result.Total.Errors > 0)
            {
                throw new InvalidOperationException($"firedrill load saw {result.Total.Errors} errors: {string.Join(", ", result.Total.Outcomes)}");
            }

            return (result, output.Cpu);
        }
        finally
        {
            File.Delete(json);
        }
    }

    /// <summary>Runs bench/Firedrill.Bench.Probe (a bare .NET client, one request at a time, paced 1 ms) in its own process.</summary>
    private static async Task<(double P50Ms, double P99Ms)> ProbeAsync(string client, Uri url, TimeSpan duration, CancellationToken cancellationToken)
    {
        var mine = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(System.IO.Path.DirectorySeparatorChar));
        var probe = System.IO.Path.Combine(mine.Parent!.Parent!.FullName, "Firedrill.Bench.Probe", mine.Name, "Firedrill.Bench.Probe.dll");
        var output = await Tool.RunAsync("dotnet",
            [probe, client, url.ToString(), ((int)duration.TotalSeconds).ToString(CultureInfo.InvariantCulture), WarmupSeconds.ToString(CultureInfo.InvariantCulture)],
            duration, null, cancellationToken,
            // As `firedrill load` runs (src/Firedrill.Lab/Program.cs).
            environment: new Dictionary<string, string> { ["DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS"] = "1" },
            warmup: TimeSpan.FromSeconds(WarmupSeconds));
        var json = JsonDocument.Parse(output.StandardOutput.Trim()).RootElement;
        return (json.GetProperty("p50Ms").GetDouble(), json.GetProperty("p99Ms").GetDouble());
    }

    private static IEnumerable<int> FiredrillLoadPids() =>
        CpuMeter.ByName("dotnet").Where(pid =>
        {
            try
            {
                return File.ReadAllText($"/proc/{pid}/cmdline").Contains("firedrill.dll\0load", StringComparison.Ordinal);
            }
            catch (IOException)
            {
                return false;
            }
        });
}
