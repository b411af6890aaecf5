using Firedrill.Lab.Scenarios.Incidents;

namespace Firedrill.Lab.Scenarios;

/// <summary>The fifteen incidents of SCENARIOS.md, and those the lab can run today.</summary>
public static class Catalogue
{
    public static readonly IReadOnlyList<(string Id, string Title)> All =
    [
        ("slow-in-production", "Fast locally, slow in production"),
        ("kafka-consumer-lag", "Consumers running, lag keeps growing"),
        ("db-pool-exhaustion", "Connections run out at peak"),
        ("autoscaling-no-relief", "More pods, latency still rising"),
        ("duplicate-payments", "Retries create duplicate charges"),
        ("duplicate-scheduled-job", "The job runs several times after scaling"),
        ("slow-downstream-cascade", "One slow dependency takes down the platform"),
        ("random-500s", "Random errors, infrastructure healthy"),
        ("shallow-health-checks", "Health is green, users fail"),
        ("stale-cache", "Cache helps, then serves stale data"),
        ("uncorrelated-logs", "Logs everywhere, no request story"),
        ("memory-growth", "Memory climbs after every deployment"),
        ("gateway-only-failures", "Works in staging, fails behind the gateway"),
        ("thread-pool-starvation", "Pools exhausted, CPU stable"),
        ("breaker-cascade", "Circuit breakers on, cascades anyway"),
    ];

    private static readonly Dictionary<string, Func<Scenario>> Implemented = new(StringComparer.Ordinal)
    {
        ["duplicate-payments"] = () => new DuplicatePayments(),
        ["slow-downstream-cascade"] = () => new SlowDownstreamCascade(),
    };

    public static bool IsKnown(string id) => All.Any(entry => entry.Id == id);

    public static bool IsImplemented(string id) => Implemented.ContainsKey(id);

    public static IEnumerable<string> ImplementedIds => All.Select(entry => entry.Id).Where(IsImplemented);

    public static Scenario Create(string id) =>
        Implemented.TryGetValue(id, out var create) ? create() : throw new ArgumentException($"scenario '{id}' is not implemented yet");
}
