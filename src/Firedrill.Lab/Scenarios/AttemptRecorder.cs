using System.Diagnostics;
using Firedrill.Lab.Load;

namespace Firedrill.Lab.Scenarios;

/// <summary>
/// Records the attempts of a scenario's own client (one that deliberately retries, which the
/// load generator never does) into the same statistics as the generator's: per-endpoint
/// HdrHistograms and per-second buckets.
/// </summary>
internal sealed class AttemptRecorder
{
    private readonly LoadRecorder _recorder;
    private readonly long _start = Stopwatch.GetTimestamp();
    private readonly string[] _endpoints;

    public AttemptRecorder(params string[] endpoints)
    {
        _endpoints = endpoints;
        _recorder = new LoadRecorder(endpoints.Select(name => new RequestTemplate(name, 1, _ => throw new NotSupportedException())).ToList(), _start, Stopwatch.Frequency);
    }

    /// <summary>One attempt, timed from <paramref name="started"/> (a <see cref="Stopwatch"/> timestamp) to now.</summary>
    public void Record(string endpoint, long started, string outcome, bool error) =>
        _recorder.Record(Array.IndexOf(_endpoints, endpoint), started, Stopwatch.GetTimestamp(), outcome, error);

    public LoadResult ToResult()
    {
        var elapsed = Stopwatch.GetElapsedTime(_start);
        return _recorder.Snapshot(elapsed, (int)Math.Ceiling(elapsed.TotalSeconds));
    }
}
