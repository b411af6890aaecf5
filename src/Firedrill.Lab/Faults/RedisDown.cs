using System.Globalization;
using Firedrill.Lab.Faults.Support;
using Firedrill.Lab.Fleet;
using Firedrill.Lab.Scenarios;
using StackExchange.Redis;

namespace Firedrill.Lab.Faults;

/// <summary>
/// Fault 8. Redis dies (SIGKILL) under load and comes back empty a few seconds later. Redis is the
/// shop's cache, not its system of record: the catalog is read from PostgreSQL meanwhile (the cache
/// client fails fast and HybridCache reads the failure as a miss), payments never touch Redis,
/// readiness reports Degraded (so the gateway, with no whole replica left, routes to them all:
/// HealthyOrPanic), and when Redis returns the replicas reconnect and fill it again by themselves.
/// The fleet runs on a Redis of its own (<see cref="PrivateRedis"/>): the engines' Redis, which
/// other fleets use, is never stopped.
/// </summary>
internal sealed class RedisDown : Fault
{
    private const double PaymentsPerSecond = 15;
    private const double ReadsPerSecond = 40;
    /// <summary>How long Redis stays down: long enough for every replica's readiness (cached 0.5 s) to report it.</summary>
    private static readonly TimeSpan Down = TimeSpan.FromSeconds(5);
    /// <summary>The replicas reconnect with a back-off of at most 5 s (ShopDataExtensions): twice that, and a probe's worth.</summary>
    private static readonly TimeSpan MaxRecovery = TimeSpan.FromSeconds(12);

    public override int Number => 8;

    public override string Id => "redis-down";

    public override string Title => "Redis down under load, then back empty";

    public override string Promise =>
        "A cache is not a dependency a request must have: with Redis down the catalog keeps answering from PostgreSQL, payments are unaffected, readiness says Degraded, and when Redis returns the replicas reconnect and use it again without a restart (the cache-aside pattern; the SRE book's graceful degradation).";

    public override string Injects => string.Create(CultureInfo.InvariantCulture,
        $"kill -9 of the fleet's Redis while payments and catalog reads (over the whole catalogue, so most miss the replicas' memory) flow through the gateway; {Down.TotalSeconds:0} s later redis-server is started again on the same port, empty. The fleet's Redis is its own; the engines' Redis is never stopped.");

    public override string Audits =>
        "Every catalog read as the client saw it (answered or failed, its latency); each payer's own record against the payments table (acknowledged but missing, charged twice); each replica's /health/ready while Redis was down and after; the replicas' processes; the keys in the new Redis afterwards (written by the replicas once reconnected).";

    public override string Recovery => "From Redis started again to every replica's readiness back to Healthy.";

    public override FleetOptions Fleet(FleetOptions defaults) => PaymentRun.Fleet(defaults, replicas: 2) with { OwnRedis = true };

    public override async Task<FaultOutcome> RunAsync(ScenarioContext context, CancellationToken cancellationToken)
    {
        var fleet = context.Fleet;
        var redis = fleet.OwnRedis ?? throw new InvalidOperationException("redis-down kills Redis: its fleet needs a Redis of its own");
        var before = context.Duration(TimeSpan.FromSeconds(6), TimeSpan.FromSeconds(4));
        var after = context.Duration(TimeSpan.FromSeconds(8), TimeSpan.FromSeconds(5));
        await using var run = await PaymentRun.StartAsync(context, PaymentsPerSecond, ReadsPerSecond, before + Down + after + TimeSpan.FromSeconds(20), cancellationToken);
        var clock = run.Clock;
        clock.KeySignal = "replicas reporting Degraded";
        run.SampleEvery(clock.KeySignal, TimeSpan.FromMilliseconds(500), async token => (await StatusesAsync(fleet, token)).Count(status => status == "Degraded"));
        var processes = fleet.Shops.Select(shop => (shop.Name, shop.Pid)).ToList();

        await Task.Delay(before, cancellationToken);
        var keysBefore = await KeysAsync(redis, cancellationToken);
        var pid = redis.Pid;
        var downAt = clock.Enter("redis down");
        await redis.KillAsync();
        context.Evidence.Add("The fault: the fleet's Redis killed", "during",
            $"kill -9 {pid.ToString(CultureInfo.InvariantCulture)}  # redis-server on {redis.Address}", string.Create(CultureInfo.InvariantCulture,
                $"killed redis-server (pid {pid}) holding {keysBefore:0} keys; nothing is persisted (--save \"\" --appendonly no)"));

        // Readiness while Redis is down, as an orchestrator's probe reads it (after its 0.5 s cache has turned over).
        await Task.Delay(TimeSpan.FromSeconds(1.5), cancellationToken);
        var readiness = await ReadinessWhileDownAsync(fleet, Down - TimeSpan.FromSeconds(1.5), cancellationToken);
        var degraded = readiness.ReplicasDegraded;
        var replicas = string.Join(' ', fleet.Shops.Select(shop => $"{shop.Name}={shop.Address}"));
        // Product 994 is the catalog load's thousandth read (1 + i·7 mod 1000 at i = 999): at this point of any run it has not read it yet.
        await context.Evidence.ShellAsync("Redis refuses connections; each replica's readiness; a product the readers have not read yet, through the gateway", "during",
            $"redis-cli -p {redis.Port} ping; for r in {replicas}; do echo \"${{r%%=*}} /health/ready: $(curl -s -m 3 -w ' -> %{{http_code}}' \"${{r#*=}}health/ready\")\"; done; "
            + $"curl -s -o /dev/null -w 'GET /api/products/994 -> %{{http_code}} in %{{time_total}} s\\n' {fleet.Gateway.Address}api/products/994",
            cancellationToken: cancellationToken);

        clock.Enter("redis started");
        await redis.StartAgainAsync(cancellationToken);
        var startedAt = clock.Now;
        var healthy = await Waiting.UntilAsync(async token => (await StatusesAsync(fleet, token)).All(status => status == "Healthy"),
            TimeSpan.FromSeconds(20), TimeSpan.FromMilliseconds(200), cancellationToken);
        var recovery = healthy ? clock.Now - startedAt : double.PositiveInfinity;
        context.Evidence.Add("The fault ends: redis-server started again on the same port, empty", "during",
            $"redis-server --port {redis.Port} --save \"\" --appendonly no ...",
            string.Create(CultureInfo.InvariantCulture,
                $"every replica's readiness Healthy again {(healthy ? recovery.ToString("0.0", CultureInfo.InvariantCulture) + " s" : "not within 20 s")} after it started (the replicas reconnect by themselves, back-off at most 5 s)"));
        var records = await run.FinishAsync(after, cancellationToken);
        var keysAfter = await KeysAsync(redis, cancellationToken);

        var audit = await PaymentAudit.CaptureAsync(context, records, cancellationToken);
        await context.Evidence.ShellAsync("The new Redis, filled again by the replicas (keys and a sample)", "audit",
            $"redis-cli -p {redis.Port} --user {PrivateRedis.AdminUser} DBSIZE; redis-cli -p {redis.Port} --user {PrivateRedis.AdminUser} --scan | head -3",
            new Dictionary<string, string> { ["REDISCLI_AUTH"] = redis.AdminPassword }, cancellationToken: cancellationToken);
        var restarted = processes.Count(p => fleet.Shops.SingleOrDefault(shop => shop.Name == p.Name) is not { } shop || shop.Pid != p.Pid || shop.HasExited);

        var load = clock.ToResult();
        var catalogDown = CatalogIn(clock, load, stage => stage == "redis down");
        var catalogBefore = CatalogIn(clock, load, stage => stage == FaultClock.Before);
        var paymentFailures = load.Endpoints[PaymentClient.Endpoint].Errors;
        var catalogFailures = load.Endpoints[Loads.Catalog].Errors;
        return audit.Outcome(clock, load, recovery,
            [
                Verdict.Above("catalog reads answered while Redis was down (the fault was under load)", "redis down", catalogDown.Requests, 0),
                Verdict.EqualTo("catalog reads failed (Redis down or not)", "during", catalogFailures, 0),
                Verdict.EqualTo("payment attempts failed", "during", paymentFailures, 0),
                Verdict.EqualTo("replicas that reported Degraded while Redis was down (of 2)", "redis down", degraded, processes.Count),
                Verdict.EqualTo("readiness probes answered Healthy while Redis was down", "redis down", readiness.Healthy, 0),
                Verdict.AtMost("seconds from Redis started to every replica Healthy", "redis started", recovery, MaxRecovery.TotalSeconds),
                Verdict.Above("keys the replicas wrote to the new Redis (using it again)", FaultClock.After, keysAfter, 0),
                Verdict.EqualTo("replicas restarted or dead", "audit", restarted, 0),
            ],
            new Dictionary<string, double>
            {
                ["catalog_reads"] = load.Endpoints[Loads.Catalog].Requests,
                ["catalog_reads_while_down"] = catalogDown.Requests,
                ["catalog_failures"] = catalogFailures,
                ["catalog_p50_ms_before"] = Math.Round(catalogBefore.P50Ms, 1),
                ["catalog_p50_ms_while_down"] = Math.Round(catalogDown.P50Ms, 1),
                ["catalog_p99_ms_while_down"] = Math.Round(catalogDown.P99Ms, 1),
                ["payment_failures"] = paymentFailures,
                ["replicas_degraded_while_down"] = degraded,
                ["readiness_probes_while_down"] = readiness.Probes,
                ["readiness_probes_unanswered_while_down"] = readiness.Unanswered,
                ["redis_keys_before"] = keysBefore,
                ["redis_keys_after"] = keysAfter,
                ["redis_down_seconds"] = Math.Round(startedAt - downAt, 1),
            },
            string.Create(CultureInfo.InvariantCulture,
                $"Redis down {startedAt - downAt:0.0} s: {catalogDown.Requests} catalog reads answered meanwhile (median {catalogDown.P50Ms:0} ms, {catalogBefore.P50Ms:0} ms before), {catalogFailures} failed; {paymentFailures} payment attempts failed, {audit.Acknowledged} of {audit.Audited} payers acknowledged, {audit.Lost} lost, {audit.Duplicated} charged twice; {degraded:0} of {processes.Count} replicas reported Degraded, all Healthy {recovery:0.0} s after Redis was back, {keysAfter:0} keys written to it again."));
    }

    /// <summary>The catalog reads of the seconds in the stages <paramref name="inStage"/> selects: how many, and the median of their seconds' p50 and the worst p99.</summary>
    private static (long Requests, double P50Ms, double P99Ms) CatalogIn(FaultClock clock, Load.LoadResult load, Func<string, bool> inStage)
    {
        var seconds = load.Timeline.Where(s => inStage(clock.StageAt(s.Second)) && s.Endpoints.TryGetValue(Loads.Catalog, out var e) && e.Requests > 0)
            .Select(s => s.Endpoints[Loads.Catalog]).ToList();
        if (seconds.Count == 0)
        {
            return (0, 0, 0);
        }

        var medians = seconds.Select(e => e.P50Ms).Order().ToList();
        return (seconds.Sum(e => e.Requests), medians[medians.Count / 2], seconds.Max(e => e.P99Ms));
    }

    private static Task<string[]> StatusesAsync(LabFleet fleet, CancellationToken cancellationToken) =>
        Task.WhenAll(fleet.Shops.ToList().Select(shop => Probes.ReadinessStatusAsync(shop, cancellationToken)));

    /// <summary>
    /// Each replica's readiness probed every 250 ms for <paramref name="span"/>: how many replicas said
    /// Degraded at least once, how many probes said Healthy (none should), and how many went
    /// unanswered within the probe's 1 s (a busy machine; neither evidence for nor against).
    /// </summary>
    private static async Task<(int ReplicasDegraded, int Healthy, int Unanswered, int Probes)> ReadinessWhileDownAsync(
        LabFleet fleet, TimeSpan span, CancellationToken cancellationToken)
    {
        var shops = fleet.Shops.ToList();
        var degraded = new bool[shops.Count];
        int healthy = 0, unanswered = 0, probes = 0;
        var end = DateTime.UtcNow + span;
        do
        {
            var statuses = await Task.WhenAll(shops.Select(shop => Probes.ReadinessStatusAsync(shop, cancellationToken)));
            for (var i = 0; i < statuses.Length; i++)
            {
                probes++;
                degraded[i] |= statuses[i] == "Degraded";
                healthy += statuses[i] == "Healthy" ? 1 : 0;
                unanswered += statuses[i] == "unreachable" ? 1 : 0;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(250), cancellationToken);
        }
        while (DateTime.UtcNow < end);

        return (degraded.Count(said => said), healthy, unanswered, probes);
    }

    /// <summary>The keys in the fleet's Redis, read as its administrator.</summary>
    private static async Task<double> KeysAsync(PrivateRedis redis, CancellationToken cancellationToken)
    {
        var options = ConfigurationOptions.Parse(redis.AdminConnection);
        options.AllowAdmin = true;
        options.AbortOnConnectFail = true;
        await using var connection = await ConnectionMultiplexer.ConnectAsync(options);
        cancellationToken.ThrowIfCancellationRequested();
        return await connection.GetServer(redis.Address).DatabaseSizeAsync();
    }
}
