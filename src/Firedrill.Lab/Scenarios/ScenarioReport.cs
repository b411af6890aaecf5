using System.Text.Json.Serialization;

namespace Firedrill.Lab.Scenarios;

/// <summary>One scenario's outcome: the JSON report of DESIGN.md's scenario contract, plus what the charts need.</summary>
public sealed record ScenarioReport
{
    [JsonPropertyName("scenario")] public required string Scenario { get; init; }

    [JsonPropertyName("title")] public required string Title { get; init; }

    /// <summary>The variant that ran (SCENARIOS.md), the default when none was asked for.</summary>
    [JsonPropertyName("variant")] public string? Variant { get; init; }

    /// <summary>One of <see cref="Verdicts"/>.</summary>
    [JsonPropertyName("verdict")] public required string Verdict { get; init; }

    /// <summary>baseline, broken, fixed (those that ran).</summary>
    [JsonPropertyName("phases")] public required IReadOnlyDictionary<string, PhaseResult> Phases { get; init; }

    [JsonPropertyName("checks")] public required IReadOnlyList<CheckResult> Checks { get; init; }

    [JsonPropertyName("runbook")] public required Runbook Runbook { get; init; }

    /// <summary>What an engineer would capture by hand, with the command that captured it.</summary>
    [JsonPropertyName("evidence")] public IReadOnlyList<Evidence> Evidence { get; init; } = [];

    /// <summary>Per-second points across the three phases, for the charts.</summary>
    [JsonPropertyName("timeline")] public IReadOnlyList<TimelinePoint> Timeline { get; init; } = [];

    /// <summary>The signal the charts plot beside latency (a key of <see cref="TimelinePoint.Signals"/>).</summary>
    [JsonPropertyName("key_signal")] public string? KeySignal { get; init; }

    /// <summary>More series drawn on the key signal's chart (keys of <see cref="TimelinePoint.Signals"/>).</summary>
    [JsonPropertyName("chart_signals")] public IReadOnlyList<string> ChartSignals { get; init; } = [];

    /// <summary>Why the verdict is <c>error</c>, if it is.</summary>
    [JsonPropertyName("error")] public string? Error { get; init; }
}

public static class Verdicts
{
    public const string ReproducedAndFixed = "reproduced-and-fixed";
    public const string NotReproduced = "not-reproduced";
    public const string NotFixed = "not-fixed";
    public const string Error = "error";
}

public static class Phases
{
    public const string Baseline = "baseline";
    public const string Broken = "broken";
    public const string Fixed = "fixed";

    public static readonly IReadOnlyList<string> All = [Baseline, Broken, Fixed];
}

public sealed record PhaseResult
{
    [JsonPropertyName("seconds")] public double Seconds { get; init; }

    [JsonPropertyName("requests")] public long Requests { get; init; }

    [JsonPropertyName("rps")] public double Rps { get; init; }

    [JsonPropertyName("p50_ms")] public double P50Ms { get; init; }

    [JsonPropertyName("p95_ms")] public double P95Ms { get; init; }

    [JsonPropertyName("p99_ms")] public double P99Ms { get; init; }

    [JsonPropertyName("error_rate")] public double ErrorRate { get; init; }

    /// <summary>
    /// How the phase's requests ended, by status code ("200", "429", "503"), "timeout" or exception: what the
    /// error rate counts and what it does not (a 429 from the gateway's client limit is not an error, and is fast).
    /// </summary>
    [JsonPropertyName("outcomes")] public IReadOnlyDictionary<string, long> Outcomes { get; init; } = new Dictionary<string, long>();

    /// <summary>Named measurements of the phase: PromQL results and lab-side counts (rows in a table).</summary>
    [JsonPropertyName("signals")] public IReadOnlyDictionary<string, double> Signals { get; init; } = new Dictionary<string, double>();
}

public sealed record CheckResult(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("phase")] string Phase,
    [property: JsonPropertyName("expect")] string Expect,
    [property: JsonPropertyName("value")] double Value,
    [property: JsonPropertyName("pass")] bool Pass);

/// <summary>What a user reads: symptom → first checks (with the queries to run) → root cause → fix.</summary>
public sealed record Runbook(
    [property: JsonPropertyName("symptom")] string Symptom,
    [property: JsonPropertyName("first_checks")] IReadOnlyList<SignalQuery> FirstChecks,
    [property: JsonPropertyName("root_cause")] string RootCause,
    [property: JsonPropertyName("fix")] string Fix);

/// <summary>
/// A signal as a PromQL query a user can paste into Prometheus, and what it shows. In a report,
/// a runbook's first check also carries the query's value at the end of each phase, so a query
/// that matches nothing shows as null rather than passing unnoticed.
/// </summary>
public sealed record SignalQuery(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("promql")] string PromQl,
    [property: JsonPropertyName("meaning")] string Meaning)
{
    [JsonPropertyName("values")] public IReadOnlyDictionary<string, double?>? Values { get; init; }
}

/// <summary>One piece of evidence: the command a user would type and what it printed.</summary>
public sealed record Evidence(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("phase")] string Phase,
    [property: JsonPropertyName("command")] string Command,
    [property: JsonPropertyName("output")] string Output);

/// <summary>One second of the run: client-side latency and errors, and the scenario's signals.</summary>
public sealed record TimelinePoint(
    [property: JsonPropertyName("second")] double Second,
    [property: JsonPropertyName("phase")] string Phase,
    [property: JsonPropertyName("rps")] double Rps,
    [property: JsonPropertyName("p50_ms")] double P50Ms,
    [property: JsonPropertyName("p99_ms")] double P99Ms,
    [property: JsonPropertyName("error_rate")] double ErrorRate,
    [property: JsonPropertyName("signals")] IReadOnlyDictionary<string, double> Signals);
