using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using Firedrill.Lab.Fleet;
using Firedrill.Lab.Load;

namespace Firedrill.Lab.Scenarios.Incidents;

/// <summary>
/// cold-replicas' measures. The verdict's: users' requests each added replica answered before its
/// warm-up finished, as the replica counted them (read from it, not from Prometheus, which may not
/// have scraped a replica that joined a second ago). A signal beside it: the users' latency on the
/// replicas a scale-up added against the replica that was already serving, over the same seconds
/// after they joined rotation (a busy second of the machine slows both groups alike). It is not a
/// check: with precompiled (ReadyToRun) services, Redis behind each replica's cache and PostgreSQL
/// on loopback, a cold replica's first answers are slower by tens of milliseconds, the size of this
/// 2-core machine's own noise (measured: p99 1.0–1.8x, the first 20 answers' mean 1.2–2x).
/// </summary>
internal sealed partial class AutoscalingNoRelief
{
    /// <summary>The shop's header naming the replica that answered (src/Firedrill.Shop/Http/ReplicaHeader.cs).</summary>
    private const string ReplicaHeader = "X-Firedrill-Replica";
    /// <summary>A floor well above zero: one new replica's share of the traffic (about 27/s) over a warm-up of a second or more is dozens.</summary>
    private const double ServedColdAtLeast = 10;
    /// <summary>Fixed: the added replicas' share (about 53/s together) for a little over half a second, at the least.</summary>
    private const double NewReplicasServedAtLeast = 30;

    private static async Task AddColdSignalsAsync(ScenarioContext context, string phase, ReplicaLatencies latencies, string warmReplica,
        IReadOnlyList<ScaleUp> scaleUps, Dictionary<string, double> signals, CancellationToken cancellationToken)
    {
        var added = scaleUps.SelectMany(scaleUp => scaleUp.Replicas).ToList();
        // Every answer, for whoever wants to look further than the table below.
        await File.WriteAllLinesAsync(Path.Combine(context.Fleet.Logs, $"answers-{phase}.csv"),
            scaleUps.Select(scaleUp => $"# joined {scaleUp.JoinedAt:O} {string.Join(' ', scaleUp.Replicas)}")
                .Append("sent_at,ms,replica")
                .Concat(latencies.After(DateTimeOffset.MinValue, _ => true).Select(answer =>
                    string.Create(CultureInfo.InvariantCulture, $"{answer.SentAt:O},{answer.Ms:0.00},{answer.Replica}"))), cancellationToken);
        var joined = scaleUps.Count == 0 ? DateTimeOffset.MaxValue : scaleUps[0].JoinedAt;
        var fresh = latencies.After(joined, replica => replica != warmReplica);
        var warm = latencies.After(joined, replica => replica == warmReplica);
        signals["answers_new_replicas"] = fresh.Count;
        signals["answers_warm_replica"] = warm.Count;
        signals["p99_new_replicas_ms"] = Math.Round(P99(fresh), 1);
        signals["p99_warm_replica_ms"] = Math.Round(P99(warm), 1);
        signals["p99_new_over_warm"] = fresh.Count == 0 || warm.Count == 0 ? 0 : Math.Round(P99(fresh) / Math.Max(P99(warm), 1), 3);
        // Each added replica's own count, read from it before the next phase removes it (Prometheus may
        // not have scraped a replica that joined a second ago).
        signals["requests_served_cold"] = await ServedColdAsync(context, added, cancellationToken);

        var table = new StringBuilder("replica   answers  p50 ms  p99 ms  max ms   (sent after the scale-up joined rotation)\n");
        foreach (var replica in latencies.After(joined, _ => true).GroupBy(answer => answer.Replica).OrderBy(group => group.Key, StringComparer.Ordinal))
        {
            var ms = replica.Select(answer => answer.Ms).Order().ToList();
            table.Append(CultureInfo.InvariantCulture, $"{replica.Key,-9} {ms.Count,7}  {Percentile(ms, 0.50),6:0.0}  {Percentile(ms, 0.99),6:0.0}  {ms[^1],6:0.0}");
            table.Append(replica.Key == warmReplica ? "   (serving before the scale-up)\n" : "   (added by the autoscaler)\n");
        }

        context.Evidence.Add("Latency by the replica that answered, after the scale-up", phase,
            "for i in $(seq 300); do curl -s -o /dev/null -w '%header{x-firedrill-replica} %{time_total}\\n' "
            + $"'{context.Fleet.Gateway.Address}api/products?page=1&pageSize=50'; done | sort -k1,1 -k2,2n "
            + "| awk '{n[$1]++; slowest[$1]=$2} END {for (r in n) print r, n[r], \"answers, slowest\", slowest[r] * 1000, \"ms\"}'",
            table.ToString());
        foreach (var name in added)
        {
            if (context.Fleet.Shops.FirstOrDefault(shop => shop.Name == name) is { } replica)
            {
                await context.Evidence.ShellAsync($"{name}: warm-up state and requests it served cold", phase,
                    $"curl -s {replica.Address}health/ready; echo; curl -s {replica.Address}metrics | grep -E '^firedrill_warmup'",
                    cancellationToken: cancellationToken);
            }
        }
    }

    private static async Task<double> ServedColdAsync(ScenarioContext context, IReadOnlyList<string> replicas, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        double total = 0;
        foreach (var shop in context.Fleet.Shops.Where(shop => replicas.Contains(shop.Name)))
        {
            var metrics = await http.GetStringAsync(new Uri(shop.Address, "metrics"), cancellationToken);
            total += metrics.Split('\n')
                .Where(line => line.StartsWith("firedrill_warmup_requests_served_cold_total", StringComparison.Ordinal))
                .Sum(line => double.Parse(line[(line.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture));
        }

        return total;
    }

    private static double P99(IReadOnlyList<ReplicaLatencies.Answer> answers) =>
        Percentile(answers.Select(answer => answer.Ms).Order().ToList(), 0.99);

    /// <summary>Nearest rank over sorted values.</summary>
    private static double Percentile(List<double> sorted, double quantile) =>
        sorted.Count == 0 ? 0 : sorted[Math.Clamp((int)Math.Ceiling(quantile * sorted.Count) - 1, 0, sorted.Count - 1)];

    /// <summary>Between the load generator and the gateway: when each request was sent, how long its answer took, which replica gave it.</summary>
    internal sealed class ReplicaLatencies(TimeProvider time) : DelegatingHandler(LoadHttpClient.CreateHandler())
    {
        private readonly ConcurrentQueue<Answer> _answers = new();

        internal readonly record struct Answer(DateTimeOffset SentAt, double Ms, string Replica);

        public IReadOnlyList<Answer> After(DateTimeOffset from, Func<string, bool> replica) =>
            _answers.Where(answer => answer.SentAt >= from && replica(answer.Replica)).ToList();

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var sentAt = time.GetUtcNow();
            var started = time.GetTimestamp();
            var response = await base.SendAsync(request, cancellationToken);
            if (response.IsSuccessStatusCode && response.Headers.TryGetValues(ReplicaHeader, out var replica))
            {
                _answers.Enqueue(new Answer(sentAt, time.GetElapsedTime(started).TotalMilliseconds, replica.First()));
            }

            return response;
        }
    }
}
