namespace Firedrill.Lab.Tests.Support;

/// <summary>
/// Two lanes for the incidents and faults whose verdicts count things — duplicate charges, stale
/// reads, executions per window, bytes per request, requests a replica failed — rather than time
/// them. xunit runs the lanes side by side, beside the lab's other tests; their fleets take turns on
/// <see cref="FleetSlots"/> (one at a time unless <c>FIREDRILL_TEST_FLEETS</c> allows more).
/// Incidents judged on latency or on how fast something drains stay in <c>FleetGroup</c>, which
/// xunit runs after the parallel collections, alone.
/// </summary>
public static class IncidentLanes
{
    public const string A = "incident lane A";
    public const string B = "incident lane B";
}

[CollectionDefinition(IncidentLanes.A)]
public sealed class IncidentLaneA;

[CollectionDefinition(IncidentLanes.B)]
public sealed class IncidentLaneB;
