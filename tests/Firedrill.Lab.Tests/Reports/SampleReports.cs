using Firedrill.Lab.Reports;
using Firedrill.Lab.Scenarios;

namespace Firedrill.Lab.Tests.Reports;

/// <summary>Hand-built reports: one scenario that reproduced and was fixed, with a timeline; one that errored before measuring.</summary>
internal static class SampleReports
{
    public const string PoolSignal = "pool_waiting";
    public const string PipedSymptom = "Checkout p99 climbs past 2 s | then 503s";

    public static RunInfo Run { get; } = new("20261123-165300", new DateTimeOffset(2026, 11, 23, 16, 53, 0, TimeSpan.Zero), "2 cores", "firedrill run pool-exhaustion --quick", Quick: true);

    public static ScenarioReport Reproduced { get; } = new()
    {
        Scenario = "pool-exhaustion",
        Title = "Connection pool exhausted",
        Variant = "held-across-call",
        Verdict = Verdicts.ReproducedAndFixed,
        Phases = new Dictionary<string, PhaseResult>
        {
            [Phases.Baseline] = Phase(10, 5_000, 12, 20, 31, 0, 0),
            [Phases.Broken] = Phase(10, 1_800, 900, 1_900, 2_400, 0.12, 38),
            [Phases.Fixed] = Phase(10, 4_900, 13, 22, 35, 0.001, 0),
        },
        Checks =
        [
            new CheckResult("requests waiting for a connection", Phases.Broken, "> 5", 38, true),
            new CheckResult("p99 back under 100 ms", Phases.Fixed, "< 100", 35, true),
        ],
        Runbook = new Runbook(
            PipedSymptom,
            [
                new SignalQuery("pool wait", "sum(npgsql_connections_pending{state=~\"wait|queued\"})", "requests queued for a connection")
                {
                    Values = new Dictionary<string, double?> { [Phases.Baseline] = 0, [Phases.Broken] = 38, [Phases.Fixed] = null },
                },
                new SignalQuery("busy connections", "max(npgsql_connections_busy)", "at the pool's maximum"),
            ],
            "Payments hold a connection across the remote call.",
            "Release the connection before calling out; size the pool for the database."),
        Evidence =
        [
            new Evidence("Sessions idle in transaction", Phases.Broken, "psql -d shop -c 'SELECT state, count(*) FROM pg_stat_activity GROUP BY state'",
                " state | count\n-------+------\n idle in transaction | 10\n(1 row)"),
        ],
        Timeline = Timeline(),
        KeySignal = PoolSignal,
    };

    public static ScenarioReport Errored { get; } = new()
    {
        Scenario = "kafka-lag",
        Title = "Consumer lag",
        Verdict = Verdicts.Error,
        Phases = new Dictionary<string, PhaseResult>(),
        Checks = [],
        Runbook = new Runbook("Orders confirm late.", [], "A slow consumer.", "Scale the consumer group."),
        Error = "the fleet did not start: shop replica 2 exited with code 134",
    };

    private static PhaseResult Phase(double seconds, long requests, double p50, double p95, double p99, double errorRate, double waiting) => new()
    {
        Seconds = seconds,
        Requests = requests,
        Rps = requests / seconds,
        P50Ms = p50,
        P95Ms = p95,
        P99Ms = p99,
        ErrorRate = errorRate,
        Signals = new Dictionary<string, double> { [PoolSignal] = waiting, ["busy_connections"] = waiting > 0 ? 10 : 3 },
    };

    /// <summary>30 s: a calm baseline, a broken phase whose latency and queue climb, a fixed phase back to calm; one second missing its p99 (NaN).</summary>
    private static List<TimelinePoint> Timeline()
    {
        var points = new List<TimelinePoint>();
        for (var second = 0; second < 30; second++)
        {
            var phase = second < 10 ? Phases.Baseline : second < 20 ? Phases.Broken : Phases.Fixed;
            var broken = phase == Phases.Broken;
            var climb = broken ? second - 9 : 0;
            var p99 = second == 25 ? double.NaN : broken ? 400 + (climb * 200) : 30 + (second % 3);
            points.Add(new TimelinePoint(
                second,
                phase,
                broken ? 180 : 500,
                broken ? 300 + (climb * 60) : 12,
                p99,
                broken ? climb * 0.02 : 0,
                new Dictionary<string, double> { [PoolSignal] = broken ? climb * 4 : 0 }));
        }

        return points;
    }
}
