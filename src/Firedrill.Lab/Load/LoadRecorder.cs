using HdrHistogram;

namespace Firedrill.Lab.Load;

/// <summary>
/// Collects every request's latency and outcome: an HdrHistogram (µs, 3 significant digits) per
/// endpoint and in total, and per second a coarser one (2 digits, int counts) per endpoint and
/// in total. Memory is bounded by the run's shape, not its request count: about 190 KB per
/// endpoint (and the total), plus about 14 KB per second per endpoint (and the total),
/// allocated only for seconds that saw a request: a 60 s run of 4 endpoints stays under 6 MB.
/// One lock guards it all; at tens of thousands of requests a second it is not contended enough
/// to matter, and it keeps the histograms (which are not thread-safe) simple.
/// </summary>
internal sealed class LoadRecorder
{
    /// <summary>Anything slower is recorded as this: a request never lives this long in a phase.</summary>
    internal const long MaxLatencyMicros = 3_600_000_000;

    private readonly Lock _gate = new();
    private readonly string[] _names;
    private readonly long _start;
    private readonly long _frequency;
    private readonly Tally _total = new();
    private readonly Tally[] _endpoints;
    private readonly List<Second> _seconds = [];
    private long _completed;
    private long _errors;
    private bool _frozen;

    public LoadRecorder(IReadOnlyList<RequestTemplate> templates, long startTimestamp, long timestampFrequency)
    {
        _names = templates.Select(template => template.Name).ToArray();
        _endpoints = _names.Select(_ => new Tally()).ToArray();
        _start = startTimestamp;
        _frequency = timestampFrequency;
    }

    public long Completed => Interlocked.Read(ref _completed);

    public long Errors => Interlocked.Read(ref _errors);

    /// <summary>A request that ran: latency from <paramref name="intended"/> (a timestamp) to <paramref name="end"/>.</summary>
    public void Record(int endpoint, long intended, long end, string outcome, bool error)
    {
        var micros = Math.Clamp((long)((end - intended) * (1_000_000.0 / _frequency)), 0, MaxLatencyMicros);
        Add(endpoint, intended, micros, outcome, error);
    }

    /// <summary>A request the in-flight cap refused: an error with no latency, since it never ran.</summary>
    public void RecordDropped(int endpoint, long intended) => Add(endpoint, intended, latency: null, LoadOutcomes.Dropped, error: true);

    private void Add(int endpoint, long intended, long? latency, string outcome, bool error)
    {
        var second = (int)Math.Max(0, (intended - _start) / _frequency);
        lock (_gate)
        {
            // A straggler after the results were taken must not change them.
            if (_frozen)
            {
                return;
            }

            _total.Add(latency, outcome, error);
            _endpoints[endpoint].Add(latency, outcome, error);
            while (_seconds.Count <= second)
            {
                _seconds.Add(new Second(_names.Length));
            }

            _seconds[second].Add(endpoint, latency, error);
            Interlocked.Increment(ref _completed);
            if (error)
            {
                Interlocked.Increment(ref _errors);
            }
        }
    }

    /// <summary>Freezes the recorder and builds the results; the timeline covers at least <paramref name="timelineSeconds"/>.</summary>
    public LoadResult Snapshot(TimeSpan elapsed, int timelineSeconds)
    {
        lock (_gate)
        {
            _frozen = true;
            var endpoints = new Dictionary<string, EndpointStats>(StringComparer.Ordinal);
            for (var i = 0; i < _names.Length; i++)
            {
                endpoints[_names[i]] = _endpoints[i].ToStats();
            }

            var timeline = new List<SecondStats>(Math.Max(timelineSeconds, _seconds.Count));
            for (var s = 0; s < Math.Max(timelineSeconds, _seconds.Count); s++)
            {
                timeline.Add(s < _seconds.Count ? _seconds[s].ToStats(s, _names) : Second.Empty(s, _names));
            }

            return new LoadResult(elapsed, _total.Requests, _total.ToStats(), endpoints, timeline);
        }
    }

    private static double Ms(HistogramBase histogram, double percentile) =>
        histogram.TotalCount == 0 ? 0 : histogram.GetValueAtPercentile(percentile) / 1000.0;

    private sealed class Tally
    {
        private readonly LongHistogram _latency = new(MaxLatencyMicros, 3);
        private readonly Dictionary<string, long> _outcomes = new(StringComparer.Ordinal);
        private long _errors;

        public long Requests { get; private set; }

        public void Add(long? latency, string outcome, bool error)
        {
            Requests++;
            _errors += error ? 1 : 0;
            _outcomes[outcome] = _outcomes.GetValueOrDefault(outcome) + 1;
            if (latency is { } value)
            {
                _latency.RecordValue(value);
            }
        }

        public EndpointStats ToStats() => new(
            Requests, _errors, Ms(_latency, 50), Ms(_latency, 95), Ms(_latency, 99),
            _latency.TotalCount == 0 ? 0 : _latency.GetMaxValue() / 1000.0,
            new Dictionary<string, long>(_outcomes, StringComparer.Ordinal));
    }

    private sealed class Second(int endpoints)
    {
        private readonly Bucket _total = new();
        private readonly Bucket?[] _endpoints = new Bucket?[endpoints];

        public void Add(int endpoint, long? latency, bool error)
        {
            _total.Add(latency, error);
            (_endpoints[endpoint] ??= new Bucket()).Add(latency, error);
        }

        public SecondStats ToStats(int second, string[] names)
        {
            var endpoints = new Dictionary<string, EndpointSecond>(StringComparer.Ordinal);
            for (var i = 0; i < names.Length; i++)
            {
                endpoints[names[i]] = _endpoints[i]?.ToStats() ?? new EndpointSecond(0, 0, 0, 0);
            }

            var total = _total.ToStats();
            return new SecondStats(second, total.Requests, total.Errors, total.P50Ms, total.P99Ms, endpoints);
        }

        public static SecondStats Empty(int second, string[] names) =>
            new(second, 0, 0, 0, 0, names.ToDictionary(name => name, _ => new EndpointSecond(0, 0, 0, 0), StringComparer.Ordinal));
    }

    /// <summary>A second's worth: 2 significant digits are plenty for a chart and keep it small.</summary>
    private sealed class Bucket
    {
        private IntHistogram? _latency;
        private long _requests;
        private long _errors;

        public void Add(long? latency, bool error)
        {
            _requests++;
            _errors += error ? 1 : 0;
            if (latency is { } value)
            {
                (_latency ??= new IntHistogram(MaxLatencyMicros, 2)).RecordValue(value);
            }
        }

        public EndpointSecond ToStats() => _latency is null
            ? new EndpointSecond(_requests, _errors, 0, 0)
            : new EndpointSecond(_requests, _errors, Ms(_latency, 50), Ms(_latency, 99));
    }
}
