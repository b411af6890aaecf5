using System.Collections.Concurrent;

namespace Firedrill.Lab.Load;

/// <summary>The state one <see cref="LoadGenerator.RunAsync"/> call shares with its sends.</summary>
internal sealed class LoadRun(LoadProfile profile, long start, TimeProvider time, CancellationToken token)
{
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ConcurrentDictionary<PendingRequest, byte> _pending = new();
    private readonly long _maxRequests = profile.MaxRequests ?? long.MaxValue;
    private long _claimed;

    // Starts at 1: the scheduler's own reference, so "drained" means "done sending and nothing in flight".
    private long _outstanding = 1;

    public LoadProfile Profile { get; } = profile;

    public RequestMix Mix { get; } = new(profile.Mix, profile.Seed);

    public LoadRecorder Recorder { get; } = new(profile.Mix, start, time.TimestampFrequency);

    /// <summary>The timestamp every latency and second of the run is measured from.</summary>
    public long Start { get; } = start;

    /// <summary>Cancelled when the caller cancels, the run fails, or stragglers are abandoned.</summary>
    public CancellationToken Token { get; } = token;

    public Task Drained => _drained.Task;

    /// <summary>The closed model's users take sequence numbers here, so MaxRequests holds exactly.</summary>
    public bool TryClaim(out long sequence)
    {
        sequence = Interlocked.Increment(ref _claimed) - 1;
        return sequence < _maxRequests;
    }

    /// <summary>Counts a request in flight, unless the open model's cap is reached.</summary>
    public PendingRequest? TryBegin(int endpoint, long intended)
    {
        if (Interlocked.Increment(ref _outstanding) - 1 > Profile.MaxInFlight)
        {
            Release();
            return null;
        }

        return Track(endpoint, intended);
    }

    /// <summary>Counts a request in flight (the closed model: its users are its cap).</summary>
    public PendingRequest Begin(int endpoint, long intended)
    {
        Interlocked.Increment(ref _outstanding);
        return Track(endpoint, intended);
    }

    private PendingRequest Track(int endpoint, long intended)
    {
        var pending = new PendingRequest(endpoint, intended);
        _pending[pending] = 0;
        return pending;
    }

    /// <summary>Records a finished request, unless it was already written off by <see cref="Abandon"/>.</summary>
    public void Complete(PendingRequest pending, long end, string outcome, bool error)
    {
        if (_pending.TryRemove(pending, out _))
        {
            Recorder.Record(pending.Endpoint, pending.Intended, end, outcome, error);
        }
    }

    /// <summary>Drops a request that was never sent.</summary>
    public void Forget(PendingRequest pending) => _pending.TryRemove(pending, out _);

    /// <summary>
    /// Counts whatever is still in flight as timed out now: a request the run stopped waiting for
    /// was sent, so it must appear in the results rather than vanish from them.
    /// </summary>
    public void Abandon(long now)
    {
        foreach (var pending in _pending.Keys)
        {
            if (_pending.TryRemove(pending, out _))
            {
                Recorder.Record(pending.Endpoint, pending.Intended, now, LoadOutcomes.Timeout, error: true);
            }
        }
    }

    /// <summary>A request finished, or (once) the scheduler stopped sending.</summary>
    public void Release()
    {
        if (Interlocked.Decrement(ref _outstanding) == 0)
        {
            _drained.TrySetResult();
        }
    }

    public LoadProgress Progress(TimeProvider time) => new(time.GetElapsedTime(Start), Recorder.Completed, Recorder.Errors);
}

/// <summary>A request in flight: which endpoint, and when it was meant to go (a timestamp).</summary>
internal sealed class PendingRequest(int endpoint, long intended)
{
    public int Endpoint { get; } = endpoint;

    public long Intended { get; } = intended;
}
