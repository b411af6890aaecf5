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
internal sealed class ShallowHealthChecks : Scenario<ShallowHealthChecks.Cause>
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
    private const string ShallowPath = "/health/live";
    private const string GatewayProbePath = "ReverseProxy:Clusters:shop:HealthCheck:Active:Path";
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(2);
    /// <summary>How long the gateway may take to notice: 2 failed probes 1 s apart, each allowed 1 s.</summary>
    private static readonly TimeSpan Detection = TimeSpan.FromSeconds(4);
    private static readonly TimeSpan BlipStart = TimeSpan.FromSeconds(1.5);
    /// <summary>
    /// Longer than the supervisor needs to see three failures in a row (a probe may take its whole
    /// 2 s timeout on a busy machine), so every replica's liveness fails before the database is back.
    /// </summary>
    private static readonly TimeSpan BlipLength = TimeSpan.FromSeconds(7);
    /// <summary>After the blip, readiness and the gateway's next probe put replicas back within this.</summary>
    private static readonly TimeSpan Recovery = TimeSpan.FromSeconds(4);

    public override string Id => "shallow-health-checks";

    public override string Title => "Health is green, users fail";

    protected override IReadOnlyList<Cause> TypedVariants { get; } =
    [
        new("lost-database", "one replica's database role is cut off; the gateway probes /health/live, which stays 200", Fault.LostDatabase, 0.2),
        new("lost-redis", "one replica's Redis user is cut off; the gateway probes /health/live, which stays 200", Fault.LostRedis, 0.15),
        new("deep-liveness", "liveness checks the database: a 7 s database blip and the supervisor restarts every replica at once", Fault.DatabaseBlip, 0),
    ];

    private bool Blip => Chosen.Fault == Fault.DatabaseBlip;

    public override SignalQuery KeySignal => Chosen.Fault switch
    {
        Fault.DatabaseBlip => new("shop replicas up", """sum(up{job="shop"})""", "Replicas Prometheus can scrape: a restarted replica is down until its process is back."),
        _ => new("replicas in rotation (gateway)", """sum(firedrill_gateway_destinations{health="in_rotation"})""",
            "What the gateway's active health check believes: both replicas stay in rotation while one of them fails its users."),
    };

    public override IReadOnlyList<SignalQuery> ChartSignals => Chosen.Fault switch
    {
        Fault.DatabaseBlip => [new("server errors per second", """sum(rate(http_server_request_duration_seconds_count{job="shop", http_response_status_code=~"5.."}[5s])) or vector(0)""", "Requests the replicas failed.")],
        _ => [new($"requests served by {CutReplica} per second", Served(CutReplica), "The cut replica's answered requests (a request hung on Redis never completes).")],
    };

    private static string Served(string replica) =>
        $$"""sum(rate(http_server_request_duration_seconds_count{service="{{replica}}", http_route!~"/health/.*|/metrics"}[5s])) or vector(0)""";

    private const string WorstReplicaErrors =
        """max((sum by (service) (rate(http_server_request_duration_seconds_count{job="shop", http_route!~"/health/.*|/metrics", http_response_status_code=~"5.."}[5s])) / sum by (service) (rate(http_server_request_duration_seconds_count{job="shop", http_route!~"/health/.*|/metrics"}[5s]))) >= 0) or vector(0)""";

    public override Runbook Runbook => Chosen.Fault switch
    {
        Fault.LostDatabase or Fault.LostRedis => new(
            "About half of all requests fail (or hang) while every health check is green and no replica restarts.",
            [
                new("Server errors of the worst replica (ratio)", WorstReplicaErrors, "One replica fails (almost) everything it serves; the other nothing: the fault is in one replica, not in the code."),
                new("Most requests in flight in one replica", """max(sum by (service) (http_server_active_requests{job="shop"}))""",
                    "A replica that lost Redis hangs on its cache misses instead of failing them: its requests pile up."),
                new($"Requests served by {CutReplica}", Served(CutReplica), "The failing replica still gets its share: the gateway's active health check does not see the failure."),
                new("Replicas in rotation (gateway)", KeySignal.PromQl, "Both, although one fails: the gateway probes an endpoint that does not check what requests need."),
            ],
            $"The gateway's active health check probes {ShallowPath} ({GatewayProbePath} in src/Firedrill.Gateway/appsettings.json, set to the shallow endpoint), "
            + "and liveness answers for the process alone (HealthEndpoints.MapHealthEndpoints in src/Firedrill.ServiceDefaults/Health/HealthEndpoints.cs), so it stays 200 "
            + $"while {CutReplica} has lost its {(Chosen.Fault == Fault.LostDatabase ? "database (its role may no longer log in)" : "Redis (its user is disabled)")}. "
            + "The gateway keeps sending it every other request.",
            "Route on readiness: the gateway probes /health/ready, which runs the checks a request needs (PostgreSQL, Redis, each bounded by its own 2 s timeout, "
            + "ShopDataExtensions.AddShopData), so the cut replica leaves rotation after two failed probes; liveness stays shallow so nothing restarts."),
        _ => new(
            "A few seconds of database trouble and every replica restarts at once; the outage lasts longer than the database's.",
            [
                new("Shop replicas up", KeySignal.PromQl, "Replicas disappear together while their processes restart."),
                new("Replica restarts (counter resets)", """sum(resets(dotnet_process_cpu_time_seconds_total{job="shop", cpu_mode="user"}[15s])) or vector(0)""",
                    "Each restart resets the process's counters: several at once means the orchestrator killed them together."),
                new("Server errors (ratio)", WorstReplicaErrors, "Errors go on after the database is back, until the restarted replicas are up again."),
            ],
            "Liveness checks the database (Health:LivenessChecksDependencies=true: HealthOptions.LivenessChecksDependencies and HealthEndpoints.DeepLiveness in "
            + "src/Firedrill.ServiceDefaults/Health/). When the shared database blips, every replica's liveness fails at the same moment, and the supervisor "
            + "(src/Firedrill.Lab/Fleet/ReplicaSupervisor.cs, as a kubelet would) restarts them all: cold processes that cannot even start until the database is back.",
            "Liveness stays shallow (Health:LivenessChecksDependencies=false: it answers for the process alone); readiness checks the dependencies, bounded, "
            + "so during the blip the gateway takes replicas out of rotation and puts them back as soon as the database answers. No restart."),
    };

    public override FleetOptions Fleet(FleetOptions defaults) => defaults with
    {
        Replicas = Replicas,
        ReplicaIdentities = true,
        ShopSettings = new Dictionary<string, string>(defaults.ShopSettings)
        {
            ["Health:LivenessChecksDependencies"] = Blip ? "true" : "false",
            ["Jobs:InventorySyncEnabled"] = "false",
        },
        GatewaySettings = Blip
            ? defaults.GatewaySettings
            : new Dictionary<string, string>(defaults.GatewaySettings) { [GatewayProbePath] = ShallowPath },
    };

    public override Task SetupAsync(ScenarioContext context, CancellationToken cancellationToken)
    {
        context.Fleet.StartSupervisor(new SupervisorOptions());
        return Task.CompletedTask;
    }

    public override async Task ApplyAsync(ScenarioContext context, string phase, CancellationToken cancellationToken)
    {
        // Replicas restarted by the supervisor must be back before their settings change.
        await Task.WhenAll(context.Fleet.Shops.Select(shop => shop.WaitReadyAsync(cancellationToken)));
        if (phase != Phases.Fixed)
        {
            return;
        }

        if (Blip)
        {
            await context.Fleet.ConfigureShopsAsync("""{"Health:LivenessChecksDependencies": false}""", cancellationToken);
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
        var duration = phase == Phases.Baseline
            ? context.Duration(TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(3))
            : context.Duration(TimeSpan.FromSeconds(20), Blip ? TimeSpan.FromSeconds(16) : TimeSpan.FromSeconds(8));
        var restartsBefore = fleet.Supervisor!.Restarts;
        var faulty = phase != Phases.Baseline;
        if (faulty && !Blip)
        {
            await (Chosen.Fault == Fault.LostDatabase ? identities.CutDatabaseAsync(CutReplica, cancellationToken) : identities.CutRedisAsync(CutReplica));
        }

        double cutReplicaReady = 1;
        LoadResult load;
        try
        {
            using var client = context.GatewayClient(RequestTimeout);
            var fault = faulty && Blip ? BlipAsync(context, cancellationToken) : Task.CompletedTask;
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
            await fault;
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
        var settled = Blip ? BlipStart + BlipLength + Recovery : Detection;
        var after = load.Timeline.Where(second => second.Second >= settled.TotalSeconds).ToList();
        var signals = new Dictionary<string, double>
        {
            ["error_rate_after_detection"] = Math.Round(after.Sum(second => (double)second.Errors) / Math.Max(1, after.Sum(second => second.Requests)), 4),
            ["requests_after_detection"] = after.Sum(second => second.Requests),
            ["restarts"] = restarts.Values.Sum(),
            ["replicas_restarted_fraction"] = Math.Round((double)restarts.Values.Count(count => count > 0) / Replicas, 4),
            ["cut_replica_ready"] = cutReplicaReady,
        };
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
        }
        else
        {
            checks.Add(Verdict.AtLeast($"error rate {Detection.TotalSeconds:0} s after the cut", Phases.Broken, broken["error_rate_after_detection"], Chosen.MinBrokenErrorRate));
            checks.Add(Verdict.EqualTo("cut replica ready", Phases.Broken, broken["cut_replica_ready"], 0));
            checks.Add(Verdict.EqualTo("cut replica ready", Phases.Fixed, fix["cut_replica_ready"], 0));
        }

        checks.Add(Verdict.AtMost(Blip ? $"error rate {(BlipLength + Recovery).TotalSeconds:0} s after the blip began" : $"error rate {Detection.TotalSeconds:0} s after the cut",
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

    /// <summary>The shared database goes away for every replica for a few seconds, then comes back.</summary>
    private static async Task BlipAsync(ScenarioContext context, CancellationToken cancellationToken)
    {
        var identities = context.Fleet.Identities!;
        var names = Enumerable.Range(1, Replicas).Select(i => $"shop-{i}").ToList();
        await Task.Delay(BlipStart, context.Time, cancellationToken);
        try
        {
            await Task.WhenAll(names.Select(name => identities.CutDatabaseAsync(name, cancellationToken)));
            await Task.Delay(BlipLength, context.Time, cancellationToken);
        }
        finally
        {
            await Task.WhenAll(names.Select(name => identities.RestoreDatabaseAsync(name, CancellationToken.None)));
        }
    }

    private static async Task<bool> IsReadyAsync(ServiceProcess shop, CancellationToken cancellationToken)
    {
        try
        {
            using var response = await shop.Client.GetAsync("/health/ready", cancellationToken);
            return response.IsSuccessStatusCode;
        }
        catch (HttpRequestException)
        {
            return false;
        }
    }

    /// <summary>What an engineer checks: the replica's liveness and readiness, the gateway's view, and the identity that was cut.</summary>
    private async Task CaptureAsync(ScenarioContext context, string phase, CancellationToken cancellationToken)
    {
        var fleet = context.Fleet;
        var replicas = string.Join(' ', fleet.Shops.Select(shop => $"{shop.Name}={shop.Address}"));
        var prefix = fleet.Database;
        if (Chosen.Fault == Fault.LostRedis)
        {
            var redis = fleet.Identities!.Redis;
            await context.Evidence.ShellAsync("Each replica's Redis user (on/off), and who is connected", phase,
                $"redis-cli -p {redis.Port} --user {PrivateRedis.AdminUser} ACL LIST | grep {prefix} | cut -d' ' -f1-3; "
                + $"redis-cli -p {redis.Port} --user {PrivateRedis.AdminUser} CLIENT LIST | grep -o 'user=[a-z0-9_]*' | sort | uniq -c",
                new Dictionary<string, string> { ["REDISCLI_AUTH"] = redis.AdminPassword }, cancellationToken: cancellationToken);
        }
        else
        {
            await context.Evidence.PsqlAsync("Each replica's PostgreSQL role: may it log in, and its sessions", phase,
                $"SELECT r.rolname, r.rolcanlogin, count(a.pid) AS sessions FROM pg_roles r LEFT JOIN pg_stat_activity a ON a.usename = r.rolname "
                + $"WHERE r.rolname LIKE '{prefix}%' GROUP BY 1, 2 ORDER BY 1", cancellationToken);
        }

        await context.Evidence.ShellAsync("Liveness and readiness of each replica, and the gateway's readiness (destinations in rotation)", phase,
            $"for r in {replicas}; do for p in live ready; do echo \"${{r%%=*}} /health/$p: $(curl -s -m 3 -w ' -> %{{http_code}}' \"${{r#*=}}health/$p\")\"; done; done; "
            + $"echo \"gateway /health/ready: $(curl -s -m 3 {fleet.Gateway.Address}health/ready)\"",
            cancellationToken: cancellationToken);
    }
}
