using System.Text.Json.Serialization;
using Firedrill.Lab.Scenarios;

namespace Firedrill.Lab.Faults;

/// <summary>
/// One fault's outcome: issue 15's object (<c>fault, passed, requests, error_rate, audited, lost,
/// duplicated, recovery_seconds, details</c>) and what the report shows beside it.
/// </summary>
public sealed record FaultReport
{
    [JsonPropertyName("fault")] public required string Fault { get; init; }

    [JsonPropertyName("number")] public required int Number { get; init; }

    [JsonPropertyName("title")] public required string Title { get; init; }

    /// <summary>Every check passed; false on any failure of the machinery too (see <see cref="Error"/>).</summary>
    [JsonPropertyName("passed")] public required bool Passed { get; init; }

    /// <summary>Client attempts over the whole run, retries included.</summary>
    [JsonPropertyName("requests")] public long Requests { get; init; }

    /// <summary>Failed attempts (5xx, timeouts, broken connections) over the whole run.</summary>
    [JsonPropertyName("error_rate")] public double ErrorRate { get; init; }

    /// <summary>The same while the fault lasted...</summary>
    [JsonPropertyName("error_rate_during")] public double ErrorRateDuring { get; init; }

    /// <summary>...and after it ended: the load held once the fleet settled.</summary>
    [JsonPropertyName("error_rate_after")] public double ErrorRateAfter { get; init; }

    /// <summary>Client attempts by outcome: status code, "timeout", or the transport error.</summary>
    [JsonPropertyName("outcomes")] public IReadOnlyDictionary<string, long> Outcomes { get; init; } = new Dictionary<string, long>();

    [JsonPropertyName("audited")] public long Audited { get; init; }

    [JsonPropertyName("lost")] public long Lost { get; init; }

    [JsonPropertyName("duplicated")] public long Duplicated { get; init; }

    [JsonPropertyName("recovery_seconds")]
    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public double? RecoverySeconds { get; init; }

    /// <summary>The fault's own figures, by name.</summary>
    [JsonPropertyName("details")] public IReadOnlyDictionary<string, double> Details { get; init; } = new Dictionary<string, double>();

    [JsonPropertyName("summary")] public string? Summary { get; init; }

    [JsonPropertyName("promise")] public required string Promise { get; init; }

    [JsonPropertyName("injected")] public required string Injected { get; init; }

    [JsonPropertyName("audit")] public required string Audit { get; init; }

    [JsonPropertyName("recovery")] public required string Recovery { get; init; }

    /// <summary>Each check's <c>phase</c> is the stage it judges: during, after or audit.</summary>
    [JsonPropertyName("checks")] public IReadOnlyList<CheckResult> Checks { get; init; } = [];

    [JsonPropertyName("evidence")] public IReadOnlyList<Evidence> Evidence { get; init; } = [];

    /// <summary>Per second: latency, errors and the stage (before, the fault's stages, after), for the charts.</summary>
    [JsonPropertyName("timeline")] public IReadOnlyList<TimelinePoint> Timeline { get; init; } = [];

    /// <summary>The series on the signal chart, the first being the key one.</summary>
    [JsonPropertyName("signals")] public IReadOnlyList<string> Signals { get; init; } = [];

    [JsonPropertyName("seconds")] public double Seconds { get; init; }

    [JsonPropertyName("error")] public string? Error { get; init; }
}
