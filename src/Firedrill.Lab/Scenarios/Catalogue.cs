using Firedrill.Lab.Scenarios.Incidents;

namespace Firedrill.Lab.Scenarios;

/// <summary>The fifteen incidents of SCENARIOS.md with their variants (the default first), and those the lab can run today.</summary>
public static class Catalogue
{
    public sealed record Entry(string Id, string Title, IReadOnlyList<string> Variants);

    public static readonly IReadOnlyList<Entry> All =
    [
        new("slow-in-production", "Fast locally, slow in production", ["missing-index", "n-plus-one", "small-pool"]),
        new("kafka-consumer-lag", "Consumers running, lag keeps growing", ["slow-handler", "hot-partition", "idle-consumers", "rebalance-storm"]),
        new("db-pool-exhaustion", "Connections run out at peak", ["held-across-call", "leak-on-error"]),
        new("autoscaling-no-relief", "More pods, latency still rising", ["hot-row", "cold-replicas"]),
        new("duplicate-payments", "Retries create duplicate charges", ["late-answer", "gateway-504"]),
        new("duplicate-scheduled-job", "The job runs several times after scaling", ["no-lock", "lock-released-early", "lease-never-expires"]),
        new("slow-downstream-cascade", "One slow dependency takes down the platform", ["no-timeout", "timeout-too-long"]),
        new("random-500s", "Random errors, infrastructure healthy", ["shared-state", "bad-record", "unhandled-downstream"]),
        new("shallow-health-checks", "Health is green, users fail", ["lost-database", "lost-redis", "deep-liveness"]),
        new("stale-cache", "Cache helps, then serves stale data", ["no-broadcast", "bypassed-invalidation"]),
        new("uncorrelated-logs", "Logs everywhere, no request story", ["dropped-context", "no-kafka-propagation", "free-text-logs"]),
        new("memory-growth", "Memory climbs after every deployment", ["unbounded-cache", "undisposed-subscription"]),
        new("gateway-only-failures", "Works in staging, fails behind the gateway", ["header-too-large", "body-too-large", "gateway-timeout", "stripped-header", "shared-rate-limit", "path-rewrite"]),
        new("thread-pool-starvation", "Pools exhausted, CPU stable", ["sync-over-async", "blocking-background-work"]),
        new("breaker-cascade", "Circuit breakers on, cascades anyway", ["timeout-outside-breaker", "retry-storm", "expensive-fallback", "shared-pool"]),
    ];

    private static readonly Dictionary<string, Func<Scenario>> Implemented = new(StringComparer.Ordinal)
    {
        ["duplicate-payments"] = () => new DuplicatePayments(),
        ["slow-downstream-cascade"] = () => new SlowDownstreamCascade(),
        ["stale-cache"] = () => new StaleCache(),
        ["thread-pool-starvation"] = () => new ThreadPoolStarvation(),
        ["memory-growth"] = () => new MemoryGrowth(),
        ["kafka-consumer-lag"] = () => new KafkaConsumerLag(),
        ["duplicate-scheduled-job"] = () => new DuplicateScheduledJob(),
        ["shallow-health-checks"] = () => new ShallowHealthChecks(),
        ["db-pool-exhaustion"] = () => new DbPoolExhaustion(),
        ["random-500s"] = () => new Random500s(),
        ["slow-in-production"] = () => new SlowInProduction(),
        ["gateway-only-failures"] = () => new GatewayOnlyFailures(),
        ["breaker-cascade"] = () => new BreakerCascade(),
        ["autoscaling-no-relief"] = () => new AutoscalingNoRelief(),
        ["uncorrelated-logs"] = () => new UncorrelatedLogs(),
    };

    public static bool IsKnown(string id) => All.Any(entry => entry.Id == id);

    public static bool IsImplemented(string id) => Implemented.ContainsKey(id);

    public static IEnumerable<string> ImplementedIds => All.Select(entry => entry.Id).Where(IsImplemented);

    /// <summary>The scenario, running <paramref name="variant"/> (null: the default); an unknown variant names the valid ones.</summary>
    public static Scenario Create(string id, string? variant = null) =>
        Implemented.TryGetValue(id, out var create) ? create().Select(variant) : throw new ArgumentException($"scenario '{id}' is not implemented yet");
}
