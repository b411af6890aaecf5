using Firedrill.Lab.Fleet;
using Firedrill.Lab.Load;
using Firedrill.Lab.Scenarios;

namespace Firedrill.Lab.Faults;

/// <summary>
/// One fault of the suite (issue 15): a promise the correct shop makes, a fault that production
/// brings, injected for real against a fresh fleet under load, then an audit of what the shop
/// promised, read from the database, the topic or the clients' own records, never from the
/// shop's own counters. Unlike a scenario there is no broken phase: the shop runs as shipped.
/// </summary>
public abstract class Fault
{
    /// <summary>Its number in issue 15's list (1–12); the command accepts it in place of the id.</summary>
    public abstract int Number { get; }

    /// <summary>kebab-case, as the command line takes it.</summary>
    public abstract string Id { get; }

    public abstract string Title { get; }

    /// <summary>What the shop promises while this fault lasts, and whose promise it is modelled on.</summary>
    public abstract string Promise { get; }

    /// <summary>What the lab does to the fleet, in a sentence.</summary>
    public abstract string Injects { get; }

    /// <summary>What the audit compares, and where it reads it.</summary>
    public abstract string Audits { get; }

    /// <summary>What <see cref="FaultOutcome.RecoverySeconds"/> measures for this fault.</summary>
    public abstract string Recovery { get; }

    /// <summary>A PromQL series charted beside latency (the fault's own lab-sampled series are charted too).</summary>
    public virtual SignalQuery? KeySignal => null;

    /// <summary>More PromQL series for the signal chart.</summary>
    public virtual IReadOnlyList<SignalQuery> ChartSignals => [];

    /// <summary>The fleet it runs on, starting from the lab's defaults.</summary>
    public virtual FleetOptions Fleet(FleetOptions defaults) => defaults;

    /// <summary>Loads the fleet, injects the fault, ends it, lets the fleet settle, audits.</summary>
    public abstract Task<FaultOutcome> RunAsync(ScenarioContext context, CancellationToken cancellationToken);
}

/// <summary>
/// What a fault measured. <see cref="Load"/> is the clients' own record of every attempt (its
/// timeline starts with <see cref="Clock"/>); the audit's counts follow issue 15's JSON.
/// </summary>
public sealed record FaultOutcome
{
    public required LoadResult Load { get; init; }

    public required FaultClock Clock { get; init; }

    /// <summary>How many records the audit compared (inputs tried, for the input and control-plane faults).</summary>
    public required long Audited { get; init; }

    /// <summary>Acknowledged but missing (5xx or admitted, for the input and control-plane faults); 0 when the promise holds.</summary>
    public required long Lost { get; init; }

    /// <summary>Applied or charged more than once; 0 when the promise holds.</summary>
    public required long Duplicated { get; init; }

    /// <summary>See <see cref="Fault.Recovery"/>; null where the fault has no recovery to time.</summary>
    public required double? RecoverySeconds { get; init; }

    /// <summary>Every check must pass for the fault to hold: the promise, and proof the fault really hit.</summary>
    public required IReadOnlyList<CheckResult> Checks { get; init; }

    /// <summary>The fault's own figures (issue 15's <c>details</c>).</summary>
    public IReadOnlyDictionary<string, double> Figures { get; init; } = new Dictionary<string, double>();

    /// <summary>One or two sentences a reader takes away.</summary>
    public required string Summary { get; init; }
}
