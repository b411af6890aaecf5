using Firedrill.Lab.Load;

namespace Firedrill.Lab.Scenarios;

/// <summary>Turns a phase's load result into the report's phase row and timeline points.</summary>
internal static class PhaseSummary
{
    public static PhaseResult ToPhaseResult(PhaseRun run)
    {
        var total = run.Load.Total;
        var seconds = Math.Max(run.Load.Elapsed.TotalSeconds, 0.001);
        return new PhaseResult
        {
            Seconds = Math.Round(seconds, 2),
            Requests = total.Requests,
            Rps = Math.Round(total.Requests / seconds, 1),
            P50Ms = Math.Round(total.P50Ms, 2),
            P95Ms = Math.Round(total.P95Ms, 2),
            P99Ms = Math.Round(total.P99Ms, 2),
            ErrorRate = Math.Round(total.ErrorRate, 4),
            Outcomes = new SortedDictionary<string, long>(total.Outcomes.ToDictionary(), StringComparer.Ordinal),
            Signals = run.Signals,
        };
    }

    /// <summary>The phase's seconds, shifted to start at <paramref name="offset"/> seconds into the run.</summary>
    public static IEnumerable<TimelinePoint> ToTimeline(PhaseRun run, string phase, double offset, IReadOnlyDictionary<string, IReadOnlyDictionary<double, double>> series) =>
        run.Load.Timeline.Select(second =>
        {
            var at = offset + second.Second;
            var signals = new Dictionary<string, double>();
            foreach (var (name, points) in series)
            {
                if (points.TryGetValue(Math.Floor(at), out var value))
                {
                    signals[name] = value;
                }
            }

            return new TimelinePoint(at, phase, second.Requests, Math.Round(second.P50Ms, 2), Math.Round(second.P99Ms, 2),
                second.Requests == 0 ? 0 : Math.Round((double)second.Errors / second.Requests, 4), signals);
        });
}
