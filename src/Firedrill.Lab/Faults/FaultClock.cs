using System.Diagnostics;
using Firedrill.Lab.Load;
using Firedrill.Lab.Scenarios;

namespace Firedrill.Lab.Faults;

/// <summary>
/// One fault's time line: when the load began, the stages the fault went through (before, the
/// fault's own stages, after), every client attempt (per-endpoint HdrHistograms and per-second
/// buckets, as the load generator keeps them), the last failure a client saw, and series the
/// lab sampled itself (an outbox backlog read with SQL, say), one value per second.
/// </summary>
public sealed class FaultClock
{
    public const string Before = "before";
    public const string After = "after";

    private readonly long _start = Stopwatch.GetTimestamp();
    private readonly AttemptRecorder _recorder;
    private readonly List<(string Stage, double At)> _stages = [(Before, 0)];
    private readonly Dictionary<string, SortedDictionary<int, double>> _samples = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Counts> _tallies = new(StringComparer.Ordinal);
    private double _lastFailure = double.NaN;
    private double _lastSuccess = double.NaN;

    /// <param name="endpoints">The names attempts are recorded under (unique).</param>
    public FaultClock(TimeProvider time, params string[] endpoints)
    {
        StartedAt = time.GetUtcNow();
        _recorder = new AttemptRecorder(endpoints);
    }

    /// <summary>The sampled series charted first (the fault's key signal); the others follow.</summary>
    public string? KeySignal { get; set; }

    /// <summary>Wall-clock start, for Prometheus range queries.</summary>
    public DateTimeOffset StartedAt { get; }

    /// <summary>Seconds since the start.</summary>
    public double Now => Stopwatch.GetElapsedTime(_start).TotalSeconds;

    /// <summary>When the last failed attempt ended, in seconds since the start; NaN when none failed.</summary>
    public double LastFailure
    {
        get
        {
            lock (_stages)
            {
                return _lastFailure;
            }
        }
    }

    public IReadOnlyList<(string Stage, double At)> Stages
    {
        get
        {
            lock (_stages)
            {
                return [.. _stages];
            }
        }
    }

    public IReadOnlyDictionary<string, IReadOnlyDictionary<int, double>> Samples
    {
        get
        {
            lock (_samples)
            {
                return _samples.ToDictionary(pair => pair.Key, pair => (IReadOnlyDictionary<int, double>)new Dictionary<int, double>(pair.Value), StringComparer.Ordinal);
            }
        }
    }

    /// <summary>When <paramref name="stage"/> began, in seconds since the start; NaN if it never did.</summary>
    public double StageStart(string stage) => Stages.Where(s => s.Stage == stage).Select(s => s.At).DefaultIfEmpty(double.NaN).First();

    /// <summary>Marks the start of a stage (the fault's own names; <see cref="After"/> once the fault has ended) and returns the time.</summary>
    public double Enter(string stage)
    {
        var now = Now;
        lock (_stages)
        {
            _stages.Add((stage, now));
        }

        return now;
    }

    /// <summary>The stage that second <paramref name="second"/> (from the start) mostly belongs to.</summary>
    public string StageAt(double second)
    {
        var stages = Stages;
        var name = Before;
        foreach (var (stage, at) in stages)
        {
            if (at <= second + 0.5)
            {
                name = stage;
            }
        }

        return name;
    }

    /// <summary>One attempt, started at <paramref name="started"/> (a <see cref="Stopwatch"/> timestamp) and ending now.</summary>
    public void Record(string endpoint, long started, string outcome, bool error)
    {
        _recorder.Record(endpoint, started, outcome, error);
        var tally = Counter(endpoint);
        Interlocked.Increment(ref tally.Requests);
        if (error)
        {
            Interlocked.Increment(ref tally.Errors);
        }

        lock (_stages)
        {
            if (error)
            {
                _lastFailure = double.IsNaN(_lastFailure) ? Now : Math.Max(_lastFailure, Now);
            }
            else
            {
                _lastSuccess = double.IsNaN(_lastSuccess) ? Now : Math.Max(_lastSuccess, Now);
            }
        }
    }

    /// <summary>A value of a lab-sampled series at this second (the last one in a second wins).</summary>
    public void Sample(string name, double value)
    {
        var second = (int)Math.Floor(Now);
        lock (_samples)
        {
            if (!_samples.TryGetValue(name, out var series))
            {
                _samples[name] = series = [];
            }

            series[second] = value;
        }
    }

    /// <summary>
    /// Lets the fleet settle: waits until no client attempt has failed for <paramref name="quiet"/>
    /// and one at least has succeeded in that time, or <paramref name="limit"/> has passed. True when
    /// it went quiet. A quiet without successes is not recovery: it is what clients see while every
    /// attempt hangs on an overloaded fleet, until their timeouts fail them all.
    /// </summary>
    public async Task<bool> SettleAsync(TimeSpan quiet, TimeSpan limit, CancellationToken cancellationToken)
    {
        var deadline = Now + limit.TotalSeconds;
        while (true)
        {
            double last, success;
            lock (_stages)
            {
                (last, success) = (_lastFailure, _lastSuccess);
            }

            var now = Now;
            if (double.IsNaN(last) || (now - last >= quiet.TotalSeconds && success > last && now - success <= quiet.TotalSeconds))
            {
                return true;
            }

            if (Now >= deadline)
            {
                return false;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(100), cancellationToken);
        }
    }

    /// <summary>Attempts recorded so far under <paramref name="endpoint"/>.</summary>
    public long ToCount(string endpoint) => Interlocked.Read(ref Counter(endpoint).Requests);

    /// <summary>Failed attempts recorded so far under <paramref name="endpoint"/>.</summary>
    public long ToErrors(string endpoint) => Interlocked.Read(ref Counter(endpoint).Errors);

    private Counts Counter(string endpoint)
    {
        lock (_tallies)
        {
            if (!_tallies.TryGetValue(endpoint, out var tally))
            {
                _tallies[endpoint] = tally = new Counts();
            }

            return tally;
        }
    }

    private sealed class Counts
    {
        public long Requests;
        public long Errors;
    }

    /// <summary>Everything the clients recorded since the start.</summary>
    public LoadResult ToResult() => _recorder.ToResult();

    /// <summary>
    /// Samples <paramref name="read"/> every <paramref name="period"/> until <paramref name="stop"/>
    /// is cancelled; a failed read is skipped (the engine may be the thing that is down).
    /// </summary>
    public async Task SampleEveryAsync(string name, TimeSpan period, Func<CancellationToken, Task<double>> read, CancellationToken stop)
    {
        using var timer = new PeriodicTimer(period);
        try
        {
            do
            {
                try
                {
                    Sample(name, await read(stop));
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    // No value this time: a gap in the chart, which is what happened.
                }
            }
            while (await timer.WaitForNextTickAsync(stop));
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // Sampling ends with the load.
        }
    }

    /// <summary>Requests and errors of the seconds in the stages <paramref name="inStage"/> selects.</summary>
    public (long Requests, long Errors) Tally(LoadResult load, Func<string, bool> inStage)
    {
        long requests = 0, errors = 0;
        foreach (var second in load.Timeline)
        {
            if (inStage(StageAt(second.Second)))
            {
                requests += second.Requests;
                errors += second.Errors;
            }
        }

        return (requests, errors);
    }

    public static bool IsDuring(string stage) => stage is not Before and not After;

    /// <summary>The run as the report's timeline: per second, latency and errors, the stage, and every sampled or queried series.</summary>
    public IReadOnlyList<TimelinePoint> Timeline(LoadResult load, IReadOnlyDictionary<string, IReadOnlyDictionary<double, double>> queried)
    {
        var samples = Samples;
        return load.Timeline.Select(second =>
        {
            var signals = new Dictionary<string, double>(StringComparer.Ordinal);
            foreach (var (name, series) in samples)
            {
                if (series.TryGetValue(second.Second, out var value))
                {
                    signals[name] = value;
                }
            }

            foreach (var (name, series) in queried)
            {
                if (series.TryGetValue(second.Second, out var value))
                {
                    signals[name] = value;
                }
            }

            return new TimelinePoint(second.Second, StageAt(second.Second), second.Requests, Math.Round(second.P50Ms, 2), Math.Round(second.P99Ms, 2),
                second.Requests == 0 ? 0 : Math.Round((double)second.Errors / second.Requests, 4), signals);
        }).ToList();
    }
}
