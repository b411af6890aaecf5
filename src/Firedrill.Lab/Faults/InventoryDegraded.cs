using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Firedrill.Lab.Faults.Support;
using Firedrill.Lab.Fleet;
using Firedrill.Lab.Load;
using Firedrill.Lab.Scenarios;

namespace Firedrill.Lab.Faults;

/// <summary>
/// Fault 9. The inventory service turns slow on half its calls (5 s), then dies, then comes back,
/// while availability reads (which call it) and catalog reads (which never do) flow through the
/// gateway. A proxy in front of inventory counts every call the replicas attempt, up or down.
/// </summary>
internal sealed class InventoryDegraded : Fault
{
    private const double AvailabilityPerSecond = 25;
    private const double CatalogPerSecond = 25;
    private const string Availability = "availability";
    private const double MaxAmplification = 1.2;
    private static readonly TimeSpan MaxRecovery = TimeSpan.FromSeconds(10);

    public override int Number => 9;

    public override string Id => "inventory-degraded";

    public override string Title => "Inventory slow on half its calls, then down, then back";

    public override string Promise => string.Create(CultureInfo.InvariantCulture,
        $"A failing dependency is not made worse and does not take the shop down: calls reaching it per client request ≤ {MaxAmplification}× (retries within a budget), the breaker opens and closes, availability degrades to \"unknown\" instead of failing, unrelated endpoints are untouched, and the dependency is used again within seconds of coming back (the SRE book's cascading-failure rules; Polly).");

    public override string Injects =>
        "Inventory answers half its calls after 5 s (a real server-side delay), then is killed (kill -9), then is started again on its address; availability and catalog reads at a steady rate through the gateway throughout.";

    public override string Audits =>
        "Calls the replicas made to inventory, counted by a TCP proxy in front of it (it counts attempts while inventory is down too), against the availability requests the clients sent; each client answer's status (known or unknown) and latency; the catalog readers' own record.";

    public override string Recovery => "From inventory ready again to the last \"unknown\" availability answer: how long the shop took to use it again (breaker closed).";

    public override FleetOptions Fleet(FleetOptions defaults) => defaults with
    {
        Replicas = 2,
        // Only the clients' availability reads reach inventory, so the proxy's count is theirs.
        ShopSettings = new Dictionary<string, string>(defaults.ShopSettings) { ["Jobs:InventorySyncEnabled"] = "false" },
    };

    public override async Task<FaultOutcome> RunAsync(ScenarioContext context, CancellationToken cancellationToken)
    {
        var fleet = context.Fleet;
        await using var proxy = new CuttingProxy(fleet.Inventory.Address, seed: 9);
        await fleet.ConfigureShopsAsync(JsonSerializer.Serialize(new Dictionary<string, string> { ["InventoryClient:BaseAddress"] = proxy.Address.ToString() }), cancellationToken);

        var clock = new FaultClock(context.Time, Availability, Loads.Catalog);
        using var stop = new CancellationTokenSource();
        using var client = context.GatewayClient(Timeout.InfiniteTimeSpan);
        var answers = new Answers();
        var limit = TimeSpan.FromSeconds(120);
        var availability = OpenLoop.RunAsync(AvailabilityPerSecond, limit, (int)(AvailabilityPerSecond * limit.TotalSeconds),
            i => ReadAvailabilityAsync(client, clock, answers, i, cancellationToken), stop.Token, cancellationToken);
        var catalog = Loads.ReadCatalogAsync(client, clock, CatalogPerSecond, limit, TimeSpan.FromSeconds(5), stop.Token, cancellationToken);
        clock.KeySignal = "inventory calls per second (proxy)";
        var sampling = clock.SampleEveryAsync("inventory calls per second (proxy)", TimeSpan.FromSeconds(1), Probes.PerSecond(_ => Task.FromResult((double)proxy.Requests)), stop.Token);
        var ratio = clock.SampleEveryAsync("unknown availability answers (%)", TimeSpan.FromSeconds(1), _ => Task.FromResult(answers.UnknownShareAndReset() * 100), stop.Token);

        await Task.Delay(context.Duration(TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(4)), cancellationToken);
        var marks = new List<(string Stage, long Sent, long Calls)> { ("before", answers.Sent, proxy.Requests) };

        clock.Enter("slow");
        marks.Add(("slow", answers.Sent, proxy.Requests));
        await fleet.Inventory.ConfigureAsync("""{"Inventory:LatencyMs": 5000, "Inventory:LatencyDistribution": "Fixed", "Inventory:LatencyRate": 0.5}""", cancellationToken);
        // 15 s with --quick too: the budget allows 0.1 retry per request plus a reserve of 10 per replica, at most
        // 1.15× over 375 requests; over 10 s (250) the reserve alone took it to 1.18×, and runs reached 1.19 of the bound's 1.2.
        await Task.Delay(TimeSpan.FromSeconds(15), cancellationToken);

        clock.Enter("down");
        marks.Add(("down", answers.Sent, proxy.Requests));
        await context.Evidence.ShellAsync("The fault: inventory killed", "during", $"kill -9 {fleet.Inventory.Pid.ToString(CultureInfo.InvariantCulture)}  # inventory",
            cancellationToken: cancellationToken, run: $"kill -9 {fleet.Inventory.Pid.ToString(CultureInfo.InvariantCulture)} && echo killed inventory");
        await Task.Delay(context.Duration(TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(6)), cancellationToken);

        clock.Enter("back");
        await fleet.RestartInventoryAsync(cancellationToken);
        var backAt = clock.Now;
        marks.Add(("back", answers.Sent, proxy.Requests));
        answers.WatchFrom(backAt);
        await Task.Delay(MaxRecovery + TimeSpan.FromSeconds(2), cancellationToken);
        clock.Enter(FaultClock.After);
        marks.Add(("after", answers.Sent, proxy.Requests));
        await Task.Delay(context.Duration(TimeSpan.FromSeconds(6), TimeSpan.FromSeconds(4)), cancellationToken);
        marks.Add(("end", answers.Sent, proxy.Requests));
        await stop.CancelAsync();
        await Task.WhenAll(availability, catalog, sampling, ratio);

        var load = clock.ToResult();
        var stageFigures = marks.Zip(marks.Skip(1)).ToDictionary(pair => pair.First.Stage, pair => (Sent: pair.Second.Sent - pair.First.Sent, Calls: pair.Second.Calls - pair.First.Calls));
        var faultSent = stageFigures["slow"].Sent + stageFigures["down"].Sent;
        var faultCalls = stageFigures["slow"].Calls + stageFigures["down"].Calls;
        var amplification = faultSent == 0 ? 0 : (double)faultCalls / faultSent;
        var recovery = answers.LastUnknownAfterWatch is { } last ? Math.Max(0, last - backAt) : 0;
        var breaker = await context.Prometheus.QueryScalarAsync(
            """sum(max_over_time(resilience_polly_strategy_events_total{event_name="OnCircuitOpened"}[5m])) or vector(0)""", null, cancellationToken) ?? 0;
        var closed = await context.Prometheus.QueryScalarAsync(
            """sum(max_over_time(resilience_polly_strategy_events_total{event_name="OnCircuitClosed"}[5m])) or vector(0)""", null, cancellationToken) ?? 0;
        context.Evidence.Add("Calls inventory received per availability request, by stage", "audit", "(the lab's counting proxy in front of inventory, and the clients' own count)",
            string.Join('\n', stageFigures.Select(pair => string.Create(CultureInfo.InvariantCulture,
                $"{pair.Key,-7} {pair.Value.Sent,5} requests → {pair.Value.Calls,5} calls to inventory ({(pair.Value.Sent == 0 ? 0 : (double)pair.Value.Calls / pair.Value.Sent):0.00}×)"))));
        await context.Evidence.ShellAsync("The breaker's transitions, as Polly logged them", "audit",
            "grep -ho 'OnCircuit[A-Za-z]*' logs/shop-*.log | sort | uniq -c", cancellationToken: cancellationToken);

        var availabilityStats = load.Endpoints[Availability];
        var catalogStats = load.Endpoints[Loads.Catalog];
        return new FaultOutcome
        {
            Load = load,
            Clock = clock,
            Audited = answers.Sent,
            Lost = availabilityStats.Errors,
            Duplicated = 0,
            RecoverySeconds = recovery,
            Checks =
            [
                Verdict.AtMost("calls to inventory per availability request while it was slow", "slow", Ratio(stageFigures["slow"]), MaxAmplification),
                Verdict.AtMost("calls to inventory per availability request while it was down", "down", Ratio(stageFigures["down"]), MaxAmplification),
                Verdict.EqualTo("availability requests that failed (5xx or timeout) instead of degrading", "during", availabilityStats.Errors, 0),
                Verdict.Above("availability answered \"unknown\" fast (< 100 ms) while inventory was slow or down (breaker open)", "during", answers.FastUnknown, 0),
                Verdict.Above("breaker openings (Polly)", "during", breaker, 0),
                Verdict.Above("breaker closings (Polly)", FaultClock.After, closed, 0),
                Verdict.AtMost("seconds to use inventory again once it was back", FaultClock.After, recovery, MaxRecovery.TotalSeconds),
                Verdict.EqualTo("catalog reads (never calling inventory) that failed", "during", catalogStats.Errors, 0),
                Verdict.EqualTo("\"unknown\" answers once recovered", FaultClock.After, answers.UnknownInAfter(clock.StageStart(FaultClock.After)), 0),
            ],
            Figures = new Dictionary<string, double>
            {
                ["amplification"] = Math.Round(amplification, 3),
                ["amplification_slow"] = Ratio(stageFigures["slow"]),
                ["amplification_down"] = Ratio(stageFigures["down"]),
                ["amplification_back"] = Ratio(stageFigures["back"]),
                ["availability_requests"] = answers.Sent,
                ["answered_unknown"] = answers.Unknown,
                ["answered_unknown_fast"] = answers.FastUnknown,
                ["breaker_openings"] = breaker,
                ["breaker_closings"] = closed,
                ["availability_p99_ms"] = Math.Round(availabilityStats.P99Ms, 1),
                ["catalog_p99_ms"] = Math.Round(catalogStats.P99Ms, 1),
            },
            Summary = string.Create(CultureInfo.InvariantCulture,
                $"While inventory was slow then down, {faultCalls} calls reached it for {faultSent} availability requests ({amplification:0.00}×); {answers.FastUnknown} answers came back \"unknown\" at once from the open breaker ({breaker} openings); {availabilityStats.Errors} availability requests failed; inventory was used again {recovery:0.0} s after it came back."),
        };

        static double Ratio((long Sent, long Calls) stage) => stage.Sent == 0 ? 0 : Math.Round((double)stage.Calls / stage.Sent, 3);
    }

    private static async Task ReadAvailabilityAsync(HttpClient client, FaultClock clock, Answers answers, int i, CancellationToken cancellationToken)
    {
        using var bound = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bound.CancelAfter(TimeSpan.FromSeconds(6));
        var started = Stopwatch.GetTimestamp();
        answers.Sending();
        try
        {
            using var response = await client.GetAsync(new Uri($"/api/products/{1 + (i * 13 % 1000)}/availability", UriKind.Relative), bound.Token);
            var body = await response.Content.ReadAsStringAsync(bound.Token);
            var status = (int)response.StatusCode;
            clock.Record(Availability, started, status.ToString(CultureInfo.InvariantCulture), error: status >= 500);
            if (status == 200)
            {
                using var json = JsonDocument.Parse(body);
                answers.Answered(clock.Now, json.RootElement.GetProperty("status").GetString() == "unknown", Stopwatch.GetElapsedTime(started));
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            clock.Record(Availability, started, LoadOutcomes.Timeout, error: true);
        }
        catch (HttpRequestException ex)
        {
            clock.Record(Availability, started, ex.HttpRequestError.ToString(), error: true);
        }
    }

    /// <summary>The availability answers, as the clients saw them.</summary>
    private sealed class Answers
    {
        private readonly Lock _gate = new();
        private readonly List<(double At, bool Unknown)> _all = [];
        private long _sent;
        private int _windowTotal;
        private int _windowUnknown;
        private double? _watchFrom;

        public long Sent => Interlocked.Read(ref _sent);

        public long Unknown { get; private set; }

        public long FastUnknown { get; private set; }

        public double? LastUnknownAfterWatch { get; private set; }

        public void Sending() => Interlocked.Increment(ref _sent);

        public void Answered(double at, bool unknown, TimeSpan latency)
        {
            lock (_gate)
            {
                _all.Add((at, unknown));
                _windowTotal++;
                if (!unknown)
                {
                    return;
                }

                _windowUnknown++;
                Unknown++;
                FastUnknown += latency < TimeSpan.FromMilliseconds(100) ? 1 : 0;
                if (_watchFrom is { } from && at >= from)
                {
                    LastUnknownAfterWatch = at;
                }
            }
        }

        public void WatchFrom(double at)
        {
            lock (_gate)
            {
                _watchFrom = at;
            }
        }

        public double UnknownShareAndReset()
        {
            lock (_gate)
            {
                var share = _windowTotal == 0 ? 0 : (double)_windowUnknown / _windowTotal;
                (_windowTotal, _windowUnknown) = (0, 0);
                return Math.Round(share, 3);
            }
        }

        public long UnknownInAfter(double from)
        {
            lock (_gate)
            {
                return _all.Count(answer => answer.Unknown && answer.At >= from);
            }
        }
    }
}
