namespace Firedrill.Lab.Tests.Support;

/// <summary>
/// Two lanes for the incidents whose verdicts count things — duplicate charges, stale reads,
/// executions per window, bytes per request, requests a replica failed — rather than time them:
/// xunit runs the lanes side by side, one fleet each, so the suite fits its budget on two cores.
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
