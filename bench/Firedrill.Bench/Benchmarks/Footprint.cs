using System.Diagnostics;
using System.Globalization;
using Firedrill.Bench.Harness;
using Firedrill.Lab.Fleet;
using Firedrill.Lab.Load;
using Firedrill.Lab.Prometheus;

namespace Firedrill.Bench.Benchmarks;

/// <summary>Memory of the whole fleet <c>firedrill up --replicas 3</c> starts, at rest and under load, and a replica's start-up time.</summary>
internal sealed class Footprint : IBenchmark
{
    private const int Replicas = 3;
    private const int Users = 64;

    private const double QuietPercent = 50;
    private static readonly TimeSpan QuietTimeout = TimeSpan.FromSeconds(30);

    public string Name => "footprint";

    public string Title => "Footprint";

    public string Method =>
        $"The fleet of `firedrill up --replicas {Replicas}`: gateway, {Replicas} shop replicas, inventory and Prometheus, each its own process. "
        + "Resident memory (VmRSS from /proc) summed over those processes: at rest after start-up, and its peak, sampled every 200 ms, "
        + $"under {Users} closed-model users through the gateway (product reads, availability, searches; the lab's generator in this process). "
        + "At rest, the fleet's CPU is sampled too: what its background work costs. The lab process itself (hosting the Kafka mock) is reported apart. Start-up: from starting one more replica's process "
        + "(`dotnet Firedrill.Shop.dll`, from its ReadyToRun publish: see eng/publish.sh) to its first 200 from `/health/ready` (database, Redis and Kafka reachable), polled every 25 ms: "
        + $"once right after the load, and once the machine is quiet (below {QuietPercent:0} % of a core, waiting at most {QuietTimeout.TotalSeconds:0} s), which the goal judges.";

    public async Task<BenchmarkResult> RunAsync(BenchContext context, CancellationToken cancellationToken)
    {
        var result = new BenchmarkResult(Name, Title);
        // The gateway's per-client limit (1,000/s by default) would answer most of one generator's load with 429s.
        await using var fleet = await context.StartFleetAsync(Name, Replicas, cancellationToken, gateway: new Dictionary<string, string>
        {
            ["Gateway:PermitsPerSecond"] = "1000000",
            ["Gateway:Burst"] = "1000000",
        });
        await using var prometheus = await PrometheusServer.StartAsync(Path.Combine(context.RunFolder, Name), fleet.ScrapeTargets(), cancellationToken);
        int[] Pids() => [.. fleet.All.Select(s => s.Pid), prometheus.ProcessId];

        var rest = result.Measure("fleet RSS at rest", "MB");
        var idleCpu = result.Measure("fleet CPU at rest (background work, probes, scrapes)", "% of a core");
        var peak = result.Measure("fleet RSS, peak under load", "MB");
        var lab = result.Measure("lab process (Kafka mock host) RSS under load", "MB");
        var throughput = result.Measure("requests/s through the gateway during the load", "req/s");
        var afterLoad = result.Measure("replica start to ready, right after the load", "s");
        var quiet = result.Measure("machine CPU when the quiet start began", "% of a core");
        var listening = result.Measure("replica start to listening (Kestrel's log line), machine quiet", "s");
        var ready = result.Measure("replica start to ready, machine quiet", "s");
        var perProcess = "";
        // Fresh processes keep compiling for a while (the tiered-compilation thread was the busiest
        // thread of an idle replica 25 s after start): let the fleet settle before "at rest".
        await Task.Delay(TimeSpan.FromSeconds(20), cancellationToken);
        for (var run = 1; run <= context.Runs; run++)
        {
            var idle = await new CpuMeter(new Dictionary<string, Func<IEnumerable<int>>> { ["fleet"] = Pids }).SampleAsync(TimeSpan.FromSeconds(5), cancellationToken);
            idleCpu.Add(idle.Percent["fleet"]);
            rest.Add(Pids().Sum(RssMegabytes));

            var load = RunLoadAsync(fleet.Gateway.Address, context.Duration, cancellationToken);
            double max = 0, labMax = 0;
            Dictionary<int, double> atPeak = [];
            while (!load.IsCompleted)
            {
                var now = Pids().ToDictionary(pid => pid, RssMegabytes);
                if (now.Values.Sum() > max)
                {
                    (max, atPeak) = (now.Values.Sum(), now);
                }

                labMax = Math.Max(labMax, RssMegabytes(Environment.ProcessId));
                await Task.WhenAny(load, Task.Delay(200, cancellationToken));
            }

            var loadResult = await load;
            if (loadResult.Total.ErrorRate > 0.01 || loadResult.Total.Outcomes.GetValueOrDefault("429") > 0)
            {
                throw new InvalidOperationException($"the load through the gateway failed: {string.Join(", ", loadResult.Total.Outcomes)}");
            }

            peak.Add(max);
            lab.Add(labMax);
            throughput.Add(loadResult.Rps);
            perProcess = string.Join(", ", fleet.All.Select(s => $"{s.Name} {atPeak.GetValueOrDefault(s.Pid):0} MB")
                .Append($"prometheus {atPeak.GetValueOrDefault(prometheus.ProcessId):0} MB"));

            // Once as a scale-out meets it, right after the load, beside a fleet still re-compiling what
            // the load made hot; then the start-up itself, on a quiet machine (an earlier benchmark's
            // writes can keep PostgreSQL's autovacuum busy for a while).
            afterLoad.Add((await StartReplicaAsync(fleet, cancellationToken)).Ready);
            quiet.Add(await WaitQuietAsync(cancellationToken));
            var (toListening, toReady) = await StartReplicaAsync(fleet, cancellationToken);
            listening.Add(toListening);
            ready.Add(toReady);
            BenchContext.Log(string.Create(CultureInfo.InvariantCulture,
                $"  run {run}: rest {rest.Values[^1]:0} MB, peak {max:0} MB at {loadResult.Rps:0} req/s, replica ready in {afterLoad.Values[^1]:0.00} s after the load, {ready.Values[^1]:0.00} s quiet"));
        }

        result.AddRatio("fleet RSS under load, GB", Scale(peak, 1.0 / 1024), high: 1.5);
        result.AddRatio("replica start to ready on a quiet machine, s", ready, high: 1.0);
        result.AddRatio("replica start to ready right after the load, s", afterLoad);
        result.Notes.Add($"Per process at the last run's peak: {perProcess}. The replicas ran from `{Path.GetRelativePath(Directory.GetCurrentDirectory(), fleet.Shops[0].Folder)}`.");
        return result;
    }

    /// <summary>One more replica, from its process start to its first 200 from /health/ready; removed again.</summary>
    private static async Task<(double Listening, double Ready)> StartReplicaAsync(LabFleet fleet, CancellationToken cancellationToken)
    {
        var started = DateTime.UtcNow;
        var watch = Stopwatch.StartNew();
        var replica = await fleet.AddReplicaAsync(cancellationToken, updateGateway: false);
        var ready = watch.Elapsed.TotalSeconds;
        var listening = (ListeningAt(Path.Combine(fleet.Logs, replica.Name + ".log")) - started).TotalSeconds;
        await fleet.RemoveReplicaAsync(replica.Name, cancellationToken);
        return (listening, ready);
    }

    /// <summary>
    /// Waits until the whole machine is below <see cref="QuietPercent"/> of one core for a sample
    /// (the fleet at rest: probes, scrapes, its jobs), or <see cref="QuietTimeout"/>; returns the last sample.
    /// </summary>
    private static async Task<double> WaitQuietAsync(CancellationToken cancellationToken)
    {
        var meter = new CpuMeter(new Dictionary<string, Func<IEnumerable<int>>>());
        var watch = Stopwatch.StartNew();
        while (true)
        {
            var busy = (await meter.SampleAsync(TimeSpan.FromSeconds(1.5), cancellationToken)).Busy;
            if (busy < QuietPercent || watch.Elapsed > QuietTimeout)
            {
                return busy;
            }
        }
    }

    private static Task<LoadResult> RunLoadAsync(Uri gateway, TimeSpan duration, CancellationToken cancellationToken)
    {
        var client = LoadHttpClient.Create(gateway);
        var profile = new LoadProfile
        {
            Model = LoadModel.Closed,
            Concurrency = Users,
            Duration = duration,
            Mix =
            [
                new RequestTemplate("product", 6, i => new HttpRequestMessage(HttpMethod.Get, $"/api/products/{i % 1000 + 1}")),
                new RequestTemplate("availability", 3, i => new HttpRequestMessage(HttpMethod.Get, $"/api/products/{i % 1000 + 1}/availability")),
                new RequestTemplate("search", 1, i => new HttpRequestMessage(HttpMethod.Get, $"/api/products?page={i % 10 + 1}")),
            ],
        };
        return Task.Run(async () =>
        {
            using (client)
            {
                return await new LoadGenerator(client, TimeProvider.System).RunAsync(profile, null, cancellationToken);
            }
        }, cancellationToken);
    }

    /// <summary>When the replica's Kestrel logged "Now listening": the end of start-up work before the first request can arrive.</summary>
    private static DateTime ListeningAt(string log)
    {
        using var stream = new FileStream(log, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var reader = new StreamReader(stream);
        while (reader.ReadLine() is { } line)
        {
            if (line.Contains("Now listening on", StringComparison.Ordinal))
            {
                using var json = System.Text.Json.JsonDocument.Parse(line.TrimStart('\uFEFF'));
                return json.RootElement.GetProperty("Timestamp").GetDateTime().ToUniversalTime();
            }
        }

        throw new InvalidOperationException($"{log} has no \"Now listening\" line");
    }

    private static Series Scale(Series series, double factor)
    {
        var scaled = new Series("");
        foreach (var value in series.Values)
        {
            scaled.Add(value * factor);
        }

        return scaled;
    }

    private static double RssMegabytes(int pid)
    {
        try
        {
            var line = File.ReadLines($"/proc/{pid}/status").FirstOrDefault(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
            return line is null ? 0 : double.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024;
        }
        catch (IOException)
        {
            return 0;
        }
    }
}
