using System.Globalization;
using Firedrill.Lab.Faults.Support;
using Firedrill.Lab.Load;
using Firedrill.Lab.Scenarios;

namespace Firedrill.Lab.Faults;

/// <summary>
/// Fault 10. Twice the capacity the lab has just measured, offered at a constant rate (an open
/// model: arrivals do not slow down because the shop does). The shop sheds the excess at the door
/// (503 + Retry-After) and serves the admitted in bounded time, with nothing queued without limit;
/// when the surge ends, latency is back at once.
/// </summary>
internal sealed class Overload : Fault
{
    // The replica's admission sized for the lab's machine (see Fleet): 16 requests in flight, 32 waiting.
    private const int MaxConcurrent = 16;
    private const int QueueLimit = 32;
    private const int InventoryLatencyMs = 50;
    /// <summary>The capacity probe's warm-up and first step: under half the few hundred req/s the admission above allows.</summary>
    private const double FirstRate = 150;
    private static readonly TimeSpan MaxQueueTime = TimeSpan.FromMilliseconds(500);
    private static readonly TimeSpan CapacityObjective = TimeSpan.FromMilliseconds(500);
    private static readonly TimeSpan AdmittedP99Bound = TimeSpan.FromSeconds(2);
    private const double GrowthFloorMs = 100;
    private static readonly TimeSpan MaxRecovery = TimeSpan.FromSeconds(5);

    public override int Number => 10;

    public override string Id => "overload";

    public override string Title => "Twice the measured capacity";

    public override string Promise => string.Create(CultureInfo.InvariantCulture,
        $"Past capacity the shop sheds the excess early (503 + Retry-After, before any work), serves what it admits within bounded time (p99 ≤ {AdmittedP99Bound.TotalSeconds:0} s, not growing), queues nothing without limit, keeps its goodput, and is back to normal within {MaxRecovery.TotalSeconds:0} s of the surge ending (the SRE book's handling overload and cascading-failure chapters).");

    public override string Injects =>
        "The lab measures the replica's capacity (16 requests in flight, 32 waiting, inventory answering in 50 ms; the arrival rate of checkouts and product reads through the gateway raised step by step until p99 passes 500 ms or requests are shed, twice at the same rate), then offers twice that as a constant arrival rate, then half of it again.";

    public override string Audits =>
        "Every answer as the client saw it: admitted or shed (503 with Retry-After), its latency from the send; failures (timeouts, other 5xx, 503 without Retry-After) count as lost; the peak of requests inside a replica (ASP.NET Core's active-requests gauge).";

    public override string Recovery => "From the end of the surge to the first second whose p99 is back within twice the pre-surge p99 (plus 50 ms).";

    // One replica, and its admission sized for this machine, where the gateway, the database and the
    // load generator share two cores with it. The replica must be what saturates first, and its
    // capacity must be set by Little's law (requests in flight ÷ time each takes), not by whatever
    // CPU the machine has left that second: with the shipped 128 in flight a replica here only
    // reaches its limit once the machine's CPU is gone, and then the gateway and the generator queue
    // too (seen in CI: 1,631 req/s measured, 3,263 offered, shed answers' p99 4 s, all of it outside
    // the replica). With a 50 ms inventory call (a downstream as it is in production), 16 in flight
    // are a few hundred checkouts a second, twice that is well within what the gateway proxies here,
    // and the 32 waiting are served within about 0.1 s. A production replica sizes the same two
    // numbers from its own measurement (the shipped defaults are for a replica with its own cores).
    // The gateway's per-client limit (1,000 req/s per address) would shed a surge that all comes from
    // 127.0.0.1 by itself: lifted here, as a surge from many clients would not meet it.
    public override Fleet.FleetOptions Fleet(Fleet.FleetOptions defaults) => defaults with
    {
        Replicas = 1,
        GatewaySettings = new Dictionary<string, string>(defaults.GatewaySettings) { ["Gateway:PermitsPerSecond"] = "1000000", ["Gateway:Burst"] = "1000000" },
        ShopSettings = new Dictionary<string, string>(defaults.ShopSettings)
        {
            ["Admission:MaxConcurrentRequests"] = MaxConcurrent.ToString(CultureInfo.InvariantCulture),
            ["Admission:QueueLimit"] = QueueLimit.ToString(CultureInfo.InvariantCulture),
        },
        InventorySettings = new Dictionary<string, string>(defaults.InventorySettings)
        {
            ["Inventory:LatencyMs"] = InventoryLatencyMs.ToString(CultureInfo.InvariantCulture),
        },
    };

    public override async Task<FaultOutcome> RunAsync(ScenarioContext context, CancellationToken cancellationToken)
    {
        var fleet = context.Fleet;

        // Capacity first, on a client of its own: the open-model rate raised step by step (×1.3 each
        // 2 s) while the fleet keeps it with p99 under the objective, no failure and (almost) nothing shed.
        // The last rate kept is the capacity the surge doubles.
        var capacity = 0.0;
        var steps = new List<string>();
        using (var measuring = context.GatewayClient(Timeout.InfiniteTimeSpan))
        {
            var probe = new LoadGenerator(measuring, context.Time);
            // The checkout path warmed first (JIT, the connection pools grown), or the first steps measure that.
            await probe.RunAsync(Profile(LoadModel.Open, FirstRate, TimeSpan.FromSeconds(3)), null, cancellationToken);
            // A step missed once is run again before it counts: one hiccup (a GC, a pool growing, the
            // machine busy for a moment) would otherwise read as the capacity, and twice an underestimate
            // can sit below the real capacity, so the surge sheds nothing (seen in CI: 965 req/s missed
            // once, 1,485 offered, 0 shed, where the replica sheds from about 1,600).
            var missed = false;
            for (var rate = FirstRate; rate < 5000;)
            {
                var step = await probe.RunAsync(Profile(LoadModel.Open, rate, TimeSpan.FromSeconds(2)), null, cancellationToken);
                var shedSome = step.Total.Outcomes.GetValueOrDefault("503") + step.Total.Outcomes.GetValueOrDefault("429");
                var kept = step.Total.P99Ms <= CapacityObjective.TotalMilliseconds && step.Total.Errors == 0 && shedSome <= step.Total.Requests / 200;
                steps.Add(string.Create(CultureInfo.InvariantCulture,
                    $"{rate,6:0} req/s offered: p99 {step.Total.P99Ms,7:0.0} ms, {step.Total.Errors} failed, {shedSome} shed → {(kept ? "kept" : missed ? "not kept, again" : "not kept")}"));
                if (!kept && missed)
                {
                    break;
                }

                missed = !kept;
                if (kept)
                {
                    capacity = rate;
                    rate *= 1.3;
                }
            }
        }

        if (capacity == 0)
        {
            throw new InvalidOperationException(string.Create(CultureInfo.InvariantCulture,
                $"the fleet did not keep even {FirstRate:0} req/s within the objective; the machine is too busy to measure its capacity"));
        }

        context.Evidence.Add("The capacity, measured: the rate raised until p99 passed " + CapacityObjective.TotalMilliseconds + " ms", "before",
            "(the lab's load generator, open model, 2 s per step after 3 s of warm-up)", string.Join('\n', steps));
        var clock = new FaultClock(context.Time, ShedObserver.Admitted, ShedObserver.Shed);
        using var observer = new ShedObserver(clock);
        using var client = new HttpClient(observer, disposeHandler: false) { BaseAddress = fleet.Gateway.Address, Timeout = Timeout.InfiniteTimeSpan };
        var generator = new LoadGenerator(client, context.Time);
        using var stop = new CancellationTokenSource();
        clock.KeySignal = "shed per second";
        var sampling = Task.WhenAll(
            clock.SampleEveryAsync(clock.KeySignal, TimeSpan.FromSeconds(1), Probes.PerSecond(_ => Task.FromResult((double)clock.ToCount(ShedObserver.Shed))), stop.Token),
            clock.SampleEveryAsync("admitted per second", TimeSpan.FromSeconds(1), Probes.PerSecond(_ => Task.FromResult((double)clock.ToCount(ShedObserver.Admitted))), stop.Token));

        var calm = await generator.RunAsync(Profile(LoadModel.Open, capacity / 2, context.Duration(TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(3))), null, cancellationToken);

        var admittedBefore = clock.ToCount(ShedObserver.Admitted);
        var shedBefore = clock.ToCount(ShedObserver.Shed);
        var surgeStart = clock.Enter("2× capacity");
        var surge = await generator.RunAsync(Profile(LoadModel.Open, capacity * 2, context.Duration(TimeSpan.FromSeconds(15), TimeSpan.FromSeconds(8))), null, cancellationToken);
        var surgeEnd = clock.Enter(FaultClock.After);
        var admitted = clock.ToCount(ShedObserver.Admitted) - admittedBefore;
        var shed = clock.ToCount(ShedObserver.Shed) - shedBefore;
        var peak = await context.Prometheus.QueryScalarAsync(
            $"max(max_over_time(http_server_active_requests{{service=~\"shop-.*\"}}[{Math.Ceiling(surgeEnd - surgeStart) + 2:0}s]))", null, cancellationToken) ?? double.NaN;
        var after = await generator.RunAsync(Profile(LoadModel.Open, capacity / 2, context.Duration(TimeSpan.FromSeconds(8), TimeSpan.FromSeconds(6))), null, cancellationToken);
        await stop.CancelAsync();
        await sampling;

        var load = clock.ToResult();
        var seconds = load.Timeline;
        var calmP99 = calm.Total.P99Ms;
        var surgeSeconds = seconds.Where(s => clock.StageAt(s.Second) == "2× capacity").ToList();
        var firstHalf = P99Of(surgeSeconds.Take(surgeSeconds.Count / 2), ShedObserver.Admitted);
        var secondHalf = P99Of(surgeSeconds.Skip(surgeSeconds.Count / 2), ShedObserver.Admitted);
        var admittedP99 = Math.Max(firstHalf, secondHalf);
        var shedP99 = surgeSeconds.Select(s => s.Endpoints[ShedObserver.Shed]).Where(e => e.Requests > 0).Select(e => e.P99Ms).DefaultIfEmpty(0).Max();
        var recovered = seconds.Where(s => s.Second >= Math.Ceiling(surgeEnd) && s.Requests > 0)
            .FirstOrDefault(s => s.P99Ms <= Math.Max(2 * calmP99, calmP99 + 50));
        var recovery = recovered is null ? double.PositiveInfinity : Math.Max(0, recovered.Second + 1 - surgeEnd);
        var failures = surge.Total.Errors - surge.Total.Outcomes.GetValueOrDefault("503") + observer.ShedWithoutRetryAfter;
        var goodput = admitted / Math.Max(0.001, surgeEnd - surgeStart);
        context.Evidence.Add("The surge as the client saw it, second by second", "during", "(the lab's load generator, open model, and its observer of each answer)",
            string.Join('\n', surgeSeconds.Select(s => string.Create(CultureInfo.InvariantCulture,
                $"{s.Second,3} s  admitted {s.Endpoints[ShedObserver.Admitted].Requests,5} (p99 {s.Endpoints[ShedObserver.Admitted].P99Ms,7:0.0} ms)  shed {s.Endpoints[ShedObserver.Shed].Requests,5} (p99 {s.Endpoints[ShedObserver.Shed].P99Ms,6:0.0} ms)"))));
        await context.Evidence.ShellAsync("The replica's own count of its admission decisions", "audit",
            $"curl -s {fleet.Shops[0].Address}metrics | grep '^firedrill_admission_requests_total'", cancellationToken: cancellationToken);

        return new FaultOutcome
        {
            Load = load,
            Clock = clock,
            Audited = surge.Total.Requests,
            Lost = Math.Max(0, failures),
            Duplicated = 0,
            RecoverySeconds = recovery,
            Checks =
            [
                Verdict.Above("requests shed during the surge", "during", shed, 0),
                Verdict.EqualTo("shed answers without Retry-After", "during", observer.ShedWithoutRetryAfter, 0),
                Verdict.EqualTo("failures (timeouts, 5xx other than shedding)", "during", Math.Max(0, failures), 0),
                Verdict.AtMost("admitted p99 during the surge (ms)", "during", admittedP99, AdmittedP99Bound.TotalMilliseconds),
                // Over at least 100 ms: a ratio of two p99s of tens of ms is the machine's noise (one busy second on a
                // shared 2-core machine read 4.7×), while a queue without limit grows by seconds over a surge.
                Verdict.AtMost("admitted p99, second half over first half of the surge (or 100 ms; not growing)", "during", secondHalf / Math.Max(firstHalf, GrowthFloorMs), 1.5),
                Verdict.AtMost("shed answers' p99 (ms): shed at the door, not after queueing long", "during", shedP99, MaxQueueTime.TotalMilliseconds + 500),
                Verdict.AtLeast("goodput during the surge over measured capacity", "during", capacity <= 0 ? 0 : goodput / capacity, 0.6),
                Verdict.AtMost("peak requests inside a replica", "during", double.IsNaN(peak) ? double.MaxValue : peak, MaxConcurrent + QueueLimit),
                Verdict.AtMost("seconds back to the pre-surge p99", FaultClock.After, recovery, MaxRecovery.TotalSeconds),
            ],
            Figures = new Dictionary<string, double>
            {
                ["capacity_rps"] = Math.Round(capacity, 1),
                ["offered_rps"] = Math.Round(capacity * 2, 1),
                ["surge_requests"] = surge.Total.Requests,
                ["admitted"] = admitted,
                ["shed"] = shed,
                ["shed_share"] = surge.Total.Requests == 0 ? 0 : Math.Round((double)shed / surge.Total.Requests, 3),
                ["goodput_rps"] = Math.Round(goodput, 1),
                ["pre_surge_p99_ms"] = Math.Round(calmP99, 1),
                ["admitted_p99_ms"] = Math.Round(admittedP99, 1),
                ["shed_p99_ms"] = Math.Round(shedP99, 1),
                ["peak_requests_in_a_replica"] = peak,
                ["generator_p99_ms_from_intended_send"] = Math.Round(surge.Total.P99Ms, 1),
                ["after_p99_ms"] = Math.Round(after.Total.P99Ms, 1),
                ["calm_requests"] = calm.Total.Requests,
            },
            Summary = string.Create(CultureInfo.InvariantCulture,
                $"Measured capacity {capacity:0} req/s; offered {capacity * 2:0} req/s: {admitted} admitted (p99 {admittedP99:0} ms, goodput {goodput:0} req/s), {shed} shed with Retry-After (p99 {shedP99:0} ms), {Math.Max(0, failures)} failed; at most {peak:0} requests inside a replica; p99 back to normal {recovery:0.0} s after the surge."),
        };
    }

    private static LoadProfile Profile(LoadModel model, double rate, TimeSpan duration) => new()
    {
        Model = model,
        RatePerSecond = rate,
        Duration = duration,
        RequestTimeout = TimeSpan.FromSeconds(10),
        // Shed answers are the promise working, not errors; anything else 5xx is.
        IsError = status => status >= 500 && status != 503,
        Mix =
        [
            // Mostly checkouts (a reservation at inventory, then a transaction that locks and writes
            // rows and commits): the replica and the database are what saturates, not the gateway or
            // the generator sharing the machine. Each order is placed once and never retried.
            new RequestTemplate("order", 2, sequence => new HttpRequestMessage(HttpMethod.Post, "/api/orders")
            {
                Content = new StringContent($$"""{"customerId": {{1 + (sequence % 100)}}, "lines": [{"productId": {{1 + (sequence * 7 % 1000)}}, "quantity": 1}]}""",
                    System.Text.Encoding.UTF8, "application/json"),
            }),
            new RequestTemplate("product", 1, sequence => new HttpRequestMessage(HttpMethod.Get, $"/api/products/{1 + (sequence * 7 % 1000)}")),
        ],
    };

    /// <summary>The worst per-second p99 of the seconds (per-second histograms cannot be merged exactly; the worst second bounds the whole).</summary>
    private static double P99Of(IEnumerable<SecondStats> seconds, string endpoint) =>
        seconds.Select(s => s.Endpoints[endpoint]).Where(e => e.Requests > 0).Select(e => e.P99Ms).DefaultIfEmpty(0).Max();
}
