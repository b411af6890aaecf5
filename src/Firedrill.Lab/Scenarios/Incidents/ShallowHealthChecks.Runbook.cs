namespace Firedrill.Lab.Scenarios.Incidents;

/// <summary>What the user reads: the key signal, the chart's series and the runbook of each variant.</summary>
internal sealed partial class ShallowHealthChecks
{
    public override SignalQuery KeySignal => Chosen.Fault switch
    {
        Fault.DatabaseBlip => new("shop replicas up", """sum(up{job="shop"})""",
            "Replicas Prometheus can scrape: a restarted replica is down until its process is back. A phase's value is the fewest seen during it."),
        _ => new("replicas in rotation (gateway)", """sum(firedrill_gateway_destinations{health="in_rotation"})""",
            "What the gateway's active health check believes: both replicas stay in rotation while one of them fails its users."),
    };

    public override IReadOnlyList<SignalQuery> ChartSignals => Chosen.Fault switch
    {
        Fault.DatabaseBlip =>
        [
            // Liveness last, so where both fail (deep liveness checks what readiness checks) its line is the one on top.
            new("readiness probes failed per second", ProbesFailed("ready", "5s"), "The gateway's probes that failed: readiness is meant to fail while the database is away."),
            new("liveness probes failed per second", ProbesFailed("live", "5s"), "The supervisor's probes that failed: they fail with the database when liveness checks it."),
        ],
        _ => [new($"requests served by {CutReplica} per second", Served(CutReplica), "The cut replica's answered requests (a request hung on Redis never completes).")],
    };

    private static string ProbesFailed(string probe, string window) =>
        $$"""sum(rate(http_server_request_duration_seconds_count{job="shop", http_route="/health/{{probe}}", http_response_status_code="503"}[{{window}}])) or vector(0)""";

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
            + "ShopDataExtensions.AddShopData, and cached for 0.5 s so probes share one attempt: CachedHealthCheck), so the cut replica leaves rotation after two failed probes (Redis lost reads Degraded, which readiness answers with 503); liveness stays shallow so nothing restarts."
            + (Chosen.Fault == Fault.LostRedis
                ? " This run keeps the cache client's library default (Redis:FailFast=false: a command waits for the reconnect); the shop as shipped also fails fast (BacklogPolicy.FailFast) and reads PostgreSQL, which `./firedrill faults redis-down` shows with Redis down for every replica."
                : "")),
        _ => new(
            "A few seconds of database trouble and every replica restarts at once; the outage lasts longer than the database's.",
            [
                new("Shop replicas up", KeySignal.PromQl, "Replicas disappear together while their processes restart."),
                new("Replica-seconds down (last 15 s)", """sum(count_over_time((up{job="shop"} == 0)[15s:1s])) or vector(0)""",
                    "Every replica was down at the same time: not one crash, the orchestrator killed them together."),
                new("Liveness vs readiness: liveness probes failed per second (15 s)", ProbesFailed("live", "15s"),
                    "Liveness fails with the database: it checks a dependency, so the orchestrator restarts healthy processes."),
                new("Readiness probes failed per second (15 s)", ProbesFailed("ready", "15s"), "Readiness failing with the database is right: it takes a replica out of rotation, no restart."),
                new("User-facing errors at the gateway (ratio)",
                    """(sum(rate(http_server_request_duration_seconds_count{job="gateway", http_route!~"/health/.*|/metrics", http_response_status_code=~"5.."}[5s])) / sum(rate(http_server_request_duration_seconds_count{job="gateway", http_route!~"/health/.*|/metrics"}[5s]))) or vector(0)""",
                    "Errors go on after the database is back, until the restarted replicas are up again."),
                new("Replica restarts (counter resets)", """sum(resets(dotnet_process_cpu_time_seconds_total{job="shop", cpu_mode="user"}[15s])) or vector(0)""",
                    "Each restart resets the process's counters, once the restarted replica is scraped again."),
            ],
            "Liveness checks the database (Health:LivenessChecksDependencies=true: HealthOptions.LivenessChecksDependencies and HealthEndpoints.DeepLiveness in "
            + "src/Firedrill.ServiceDefaults/Health/). When the shared database blips, every replica's liveness fails at the same moment, and the supervisor "
            + "(src/Firedrill.Lab/Fleet/ReplicaSupervisor.cs, as a kubelet would) restarts them all: cold processes that cannot even start until the database is back.",
            "Liveness stays shallow (Health:LivenessChecksDependencies=false: it answers for the process alone); readiness checks the dependencies, bounded and cached "
            + "(CachedHealthCheck, Health:ReadinessCacheTtl), "
            + "so during the blip the gateway takes replicas out of rotation and puts them back as soon as the database answers. No restart."),
    };
}
