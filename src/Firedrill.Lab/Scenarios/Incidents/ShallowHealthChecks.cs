using System.Globalization;
using Firedrill.Lab.Fleet;
using Firedrill.Lab.Load;

namespace Firedrill.Lab.Scenarios.Incidents;

/// <summary>
/// SCENARIOS.md #9. Two replicas behind the gateway, each with its own PostgreSQL role and Redis
/// user, and a supervisor that restarts a replica whose liveness fails (as a kubelet would).
/// lost-database / lost-redis: one replica is cut off for real (NOLOGIN plus pg_terminate_backend,
/// or ACL SETUSER off plus CLIENT KILL USER); the gateway probes the shallow liveness endpoint,
/// which stays 200, so the cut replica keeps its share of the traffic and its users fail. Fixed:
/// the gateway routes on readiness, which checks what a request needs. deep-liveness: liveness
/// checks the database; a short database blip fails every replica's liveness at once and the
/// supervisor restarts them all. Fixed: liveness stays shallow, readiness takes them out of
/// rotation for the blip, and nothing restarts.
/// </summary>
internal sealed partial class ShallowHealthChecks : Scenario<ShallowHealthChecks.Cause>
{
    internal enum Fault
    {
        LostDatabase,
        LostRedis,
        DatabaseBlip,
    }

    /// <summary>A variant: what is cut, and which requests need it.</summary>
    /// <param name="MinBrokenErrorRate">
    /// About 1/N (N = 2) of the requests land on the cut replica: every one of them fails without its
    /// database, those its memory cache can answer succeed without Redis (measured 0.5 and 0.4).
    /// </param>
    internal sealed record Cause(string Name, string Summary, Fault Fault, double MinBrokenErrorRate) : ScenarioVariant(Name, Summary);

    private const int Replicas = 2;
    private const string CutReplica = "shop-1";
    private const double Rate = 60;
    /// <summary>
    /// Each replica's pool, sized for its load (30 requests a second of a few milliseconds each keep
    /// under one connection busy), not the shop's default (50 when this was measured, 20 since). The blip closes every pooled
    /// connection; when the database is back each request that finds no idle connection opens its own,
    /// up to the pool's size, and PostgreSQL forks their backends one at a time (about 30 a second on
    /// a 2-core machine). With 50 per replica the reopening outlasted the users' 2 s timeout, and the
    /// cancelled opens and commands cost more forks: both replicas hung past the recovery window,
    /// answering even their shallow liveness in over 1 s.
    /// </summary>
    private const int PoolSize = 10;
    private const string ShallowPath = "/health/live";
    private const string GatewayProbePath = "ReverseProxy:Clusters:shop:HealthCheck:Active:Path";
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(2);
    /// <summary>How long the gateway may take to notice: 2 failed probes 1 s apart, each allowed 1 s.</summary>
    private static readonly TimeSpan Detection = TimeSpan.FromSeconds(4);
    private static readonly TimeSpan BlipStart = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan SupervisorPeriod = TimeSpan.FromMilliseconds(500);
    /// <summary>
    /// At least twice what the supervisor needs to see three liveness failures in a row once the
    /// database is gone (<c>seconds_until_every_replica_restarted</c>: three probes 0.5 s apart, at
    /// most 3 s when each takes its whole 1 s timeout on a saturated machine), so every replica's
    /// liveness fails before the database is back; no longer, so a --quick run stays under 40 s.
    /// </summary>
    private static readonly TimeSpan BlipLength = TimeSpan.FromSeconds(6);
    /// <summary>Broken: long enough after the blip to see the replicas still restarting when the database is already back.</summary>
    private static readonly TimeSpan BrokenTail = TimeSpan.FromSeconds(2);
    /// <summary>
    /// Fixed: readiness's next check (its cache lives 0.5 s) and the gateway's next probe put replicas
    /// back, and their pools reopen the connections the cut closed, within this. 3 s on a quiet
    /// machine; on a slower one (PostgreSQL forking about 30 backends a second) the reopening alone
    /// took longer, and 5 of the 60 requests of the second after 3 s failed (in the suite).
    /// </summary>
    private static readonly TimeSpan Recovery = TimeSpan.FromSeconds(5);
    /// <summary>Fixed: warm-up of the restarted replicas before the phase (<see cref="WarmAsync"/>): done when a second's p99 is under this, or after the limit.</summary>
    private const double WarmP99Ms = 250;
    private static readonly TimeSpan WarmLimit = TimeSpan.FromSeconds(10);
    /// <summary>Fixed: how long users are measured once recovered.</summary>
    private static readonly TimeSpan Settled = TimeSpan.FromSeconds(2);

    public override string Id => "shallow-health-checks";

    public override string Title => "Health is green, users fail";

    protected override IReadOnlyList<Cause> TypedVariants { get; } =
    [
        new("lost-database", "one replica's database role is cut off; the gateway probes /health/live, which stays 200", Fault.LostDatabase, 0.2),
        new("lost-redis", "one replica's Redis user is cut off; the gateway probes /health/live, which stays 200", Fault.LostRedis, 0.15),
        new("deep-liveness", "liveness checks the database: a 6 s database blip and the supervisor restarts every replica at once", Fault.DatabaseBlip, 0),
    ];

    private bool Blip => Chosen.Fault == Fault.DatabaseBlip;

    public override FleetOptions Fleet(FleetOptions defaults) => defaults with
    {
        Replicas = Replicas,
        ReplicaIdentities = true,
        ShopSettings = new Dictionary<string, string>(defaults.ShopSettings)
        {
            ["Health:LivenessChecksDependencies"] = Blip ? "true" : "false",
            ["Jobs:InventorySyncEnabled"] = "false",
            ["Db:MaxPoolSize"] = PoolSize.ToString(CultureInfo.InvariantCulture),
            // lost-redis: the cache client with the library's default (StackExchange.Redis's backlog), where a command
            // waits up to 5 s for a connection that will not come back, so a request that misses L1
            // waits past the user's 2 s. The shop as shipped fails fast instead and reads PostgreSQL
            // (the fault suite's redis-down); either way readiness takes the cut replica out here.
            ["Redis:FailFast"] = Chosen.Fault == Fault.LostRedis ? "false" : "true",
        },
        GatewaySettings = Blip
            ? defaults.GatewaySettings
            : new Dictionary<string, string>(defaults.GatewaySettings) { [GatewayProbePath] = ShallowPath },
    };

    public override Task SetupAsync(ScenarioContext context, CancellationToken cancellationToken)
    {
        // A kubelet's probe period and CrashLoopBackOff scaled down once more (the lab's defaults are
        // 1 s and 4 s, Kubernetes' 10 s and 5 min): three failures in a row then take about 1.5 s, so a
        // 6 s blip restarts every replica with room to spare, and the replicas are back soon enough
        // after it for a --quick run to stay under 40 s.
        context.Fleet.StartSupervisor(new SupervisorOptions { Period = SupervisorPeriod, MaxBackoff = TimeSpan.FromSeconds(2) });
        return Task.CompletedTask;
    }

    public override async Task ApplyAsync(ScenarioContext context, string phase, CancellationToken cancellationToken)
    {
        // Replicas restarted by the supervisor must be back before their settings change.
        await WaitUntilEveryReplicaReadyAsync(context, cancellationToken);
        if (phase != Phases.Fixed)
        {
            return;
        }

        if (Blip)
        {
            await context.Fleet.ConfigureShopsAsync("""{"Health:LivenessChecksDependencies": false}""", cancellationToken);
            // The broken phase restarted every replica: the fixed phase starts from warm ones, as the broken phase did.
            await WarmAsync(context, phase, cancellationToken);
        }
        else
        {
            await context.Fleet.Gateway.ConfigureAsync($$"""{"{{GatewayProbePath}}": "/health/ready"}""", cancellationToken);
        }
    }

    public override async Task<PhaseRun> DriveAsync(ScenarioContext context, string phase, CancellationToken cancellationToken)
    {
        var fleet = context.Fleet;
        var identities = fleet.Identities!;
        var duration = phase switch
        {
            Phases.Baseline => context.Duration(TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(3)),
            // The blip's phases last as long as the blip needs, quick or not: the fault's timing is the mechanism.
            Phases.Broken when Blip => BlipStart + BlipLength + BrokenTail,
            _ when Blip => BlipStart + BlipLength + Recovery + Settled,
            _ => context.Duration(TimeSpan.FromSeconds(20), TimeSpan.FromSeconds(8)),
        };
        var restartsBefore = fleet.Supervisor!.Restarts;
        var faulty = phase != Phases.Baseline;
        if (faulty && !Blip)
        {
            await (Chosen.Fault == Fault.LostDatabase ? identities.CutDatabaseAsync(CutReplica, cancellationToken) : identities.CutRedisAsync(CutReplica));
        }

        double cutReplicaReady = 1;
        BlipTimes? blip = null;
        LoadResult load;
        try
        {
            using var client = context.GatewayClient(RequestTimeout);
            var fault = faulty && Blip ? BlipAsync(context, context.Time.GetUtcNow(), cancellationToken) : Task.FromResult<BlipTimes?>(null);
            var evidence = faulty
                ? context.CaptureDuringAsync(Blip ? BlipStart + TimeSpan.FromSeconds(3) : Detection + TimeSpan.FromSeconds(1), token => CaptureAsync(context, phase, token), cancellationToken)
                : Task.CompletedTask;
            load = await new LoadGenerator(client, context.Time).RunAsync(new LoadProfile
            {
                Model = LoadModel.Open,
                RatePerSecond = Rate,
                Duration = duration,
                RequestTimeout = RequestTimeout,
                Mix = Mix(phase),
            }, context.Progress, cancellationToken);
            blip = await fault;
            await evidence;
            if (faulty && !Blip)
            {
                cutReplicaReady = await IsReadyAsync(fleet.Shops.Single(shop => shop.Name == CutReplica), cancellationToken) ? 1 : 0;
            }
        }
        finally
        {
            if (faulty && !Blip)
            {
                await (Chosen.Fault == Fault.LostDatabase ? identities.RestoreDatabaseAsync(CutReplica, CancellationToken.None) : identities.RestoreRedisAsync(CutReplica));
            }
        }

        if (faulty && Blip)
        {
            await context.Evidence.ShellAsync("The supervisor's decisions (what kubectl describe pod would show as liveness failures and restarts)", phase,
                "cat logs/supervisor.log", cancellationToken: cancellationToken);
        }

        var restarts = fleet.Supervisor.Restarts.ToDictionary(pair => pair.Key, pair => pair.Value - restartsBefore.GetValueOrDefault(pair.Key));
        var settled = blip is { } times ? times.Restored + Recovery.TotalSeconds : Detection.TotalSeconds;
        var after = load.Timeline.Where(second => second.Second >= settled).ToList();
        var signals = new Dictionary<string, double>
        {
            ["error_rate_after_detection"] = ErrorRate(after),
            ["requests_after_detection"] = after.Sum(second => second.Requests),
            ["restarts"] = restarts.Values.Sum(),
            ["replicas_restarted_fraction"] = Math.Round((double)restarts.Values.Count(count => count > 0) / Replicas, 4),
            ["cut_replica_ready"] = cutReplicaReady,
        };
        if (blip is { } blipTimes)
        {
            signals["blip_seconds"] = Math.Round(blipTimes.Restored - blipTimes.Began, 2);
            // The outage outlasts the database's when the replicas were restarted into it.
            signals["error_rate_just_after_the_blip"] = ErrorRate(load.Timeline
                .Where(second => second.Second >= blipTimes.Restored && second.Second < blipTimes.Restored + BrokenTail.TotalSeconds).ToList());
            // How long the supervisor took to restart every replica, against the blip's length: the margin of "every replica restarted".
            var firstRestarts = fleet.Supervisor.RestartLog.Where(restart => restart.At >= blipTimes.At)
                .GroupBy(restart => restart.Replica).Select(group => (group.Min(restart => restart.At) - blipTimes.At).TotalSeconds).ToList();
            signals["seconds_until_every_replica_restarted"] = firstRestarts.Count == Replicas ? Math.Round(firstRestarts.Max(), 2) : -1;
        }

        if (Blip && await FewestReplicasUpAsync(context, duration, cancellationToken) is { } fewest)
        {
            // The key signal's value for the phase: at its end the restarted replicas may be back already.
            signals[KeySignal.Name] = fewest;
        }

        return new PhaseRun(load, signals);
    }

    public override IReadOnlyList<CheckResult> Check(IReadOnlyDictionary<string, PhaseResult> phases)
    {
        var baseline = phases[Phases.Baseline];
        var broken = phases[Phases.Broken].Signals;
        var fix = phases[Phases.Fixed].Signals;
        List<CheckResult> checks = [Verdict.AtMost("error rate", Phases.Baseline, baseline.ErrorRate, 0.01)];
        if (Blip)
        {
            checks.Add(Verdict.EqualTo("replicas restarted (fraction)", Phases.Broken, broken["replicas_restarted_fraction"], 1));
            // Restarted by the blip, not by chance afterwards: every replica within the database's outage (its margin: blip / time taken).
            // -1 when some replica never restarted: reported as the whole phase, which fails.
            var restartedWithin = broken["seconds_until_every_replica_restarted"];
            checks.Add(Verdict.AtMost($"seconds until every replica restarted (blip {BlipLength.TotalSeconds:0} s)", Phases.Broken,
                restartedWithin < 0 ? phases[Phases.Broken].Seconds : restartedWithin, BlipLength.TotalSeconds));
        }
        else
        {
            checks.Add(Verdict.AtLeast($"error rate {Detection.TotalSeconds:0} s after the cut", Phases.Broken, broken["error_rate_after_detection"], Chosen.MinBrokenErrorRate));
            checks.Add(Verdict.EqualTo("cut replica ready", Phases.Broken, broken["cut_replica_ready"], 0));
            checks.Add(Verdict.EqualTo("cut replica ready", Phases.Fixed, fix["cut_replica_ready"], 0));
        }

        checks.Add(Verdict.AtMost(Blip ? $"error rate from {Recovery.TotalSeconds:0} s after the database is back" : $"error rate {Detection.TotalSeconds:0} s after the cut",
            Phases.Fixed, fix["error_rate_after_detection"], 0.01));
        checks.Add(Verdict.EqualTo("restarts", Phases.Fixed, fix["restarts"], 0));
        return checks;
    }

    /// <summary>Requests that need what is cut: the database on every request, or Redis on every cache miss (reads spread over the whole catalogue).</summary>
    private IReadOnlyList<RequestTemplate> Mix(string phase) => Chosen.Fault == Fault.LostRedis
        ?
        [
            // Each phase reads other products than the last, so a replica's memory (L1) rarely has them.
            new("product", 1, sequence => new HttpRequestMessage(HttpMethod.Get, string.Create(CultureInfo.InvariantCulture,
                $"/api/products/{1 + (sequence + PhaseOffset(phase)) * 7919 % 1000}"))),
        ]
        :
        [
            new("search", 1, sequence => new HttpRequestMessage(HttpMethod.Get, string.Create(CultureInfo.InvariantCulture, $"/api/products?query=SKU-000{sequence % 100:000}&pageSize=5"))),
            new("customer-orders", 1, sequence => new HttpRequestMessage(HttpMethod.Get, string.Create(CultureInfo.InvariantCulture, $"/api/customers/{1 + sequence % 100}/orders"))),
        ];

    private static long PhaseOffset(string phase) => phase switch
    {
        Phases.Baseline => 0,
        Phases.Broken => 250,
        _ => 650,
    };
}
