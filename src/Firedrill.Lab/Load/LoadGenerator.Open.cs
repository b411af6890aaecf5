namespace Firedrill.Lab.Load;

/// <summary>The open model: a constant arrival rate, kept by a scheduler thread of its own.</summary>
public sealed partial class LoadGenerator
{
    private const double SpinShare = 0.05;
    private static readonly TimeSpan MaxSpin = TimeSpan.FromMicroseconds(50);

    /// <summary>
    /// Request i is due at start + i/rate, computed from the start rather than by sleeping between
    /// sends, so the schedule cannot drift; each is fired without awaiting it, so a stalled server
    /// cannot slow the arrivals, and its latency counts from the due time (no coordinated omission).
    /// </summary>
    private async Task<(TimeSpan Elapsed, TimeSpan Window)> RunOpenAsync(LoadRun run, CancellationTokenSource stop, CancellationToken cancellationToken)
    {
        var profile = run.Profile;
        var byDuration = Math.Max(1, (long)Math.Ceiling((profile.Duration.TotalSeconds * profile.RatePerSecond) - 1e-9));
        var total = Math.Min(byDuration, profile.MaxRequests ?? long.MaxValue);

        // A thread of its own rather than the thread pool: under load the pool's queue is full of
        // response continuations (and, in a cold process, of JIT work), and a scheduler waiting its
        // turn behind them would offer less than the rate it promised.
        await Task.Factory.StartNew(() => Schedule(run, total), run.Token, TaskCreationOptions.LongRunning, TaskScheduler.Default);

        var schedule = TimeSpan.FromSeconds(total / profile.RatePerSecond);
        var elapsed = _time.GetElapsedTime(run.Start);
        run.Release();
        await WaitBoundedAsync(run, run.Drained, profile.RequestTimeout + DrainGrace, stop, cancellationToken);
        return (elapsed > schedule ? elapsed : schedule, schedule);
    }

    private void Schedule(LoadRun run, long total)
    {
        PreciseSleep.TightenTimerSlack();
        var ticksPerRequest = _time.TimestampFrequency / run.Profile.RatePerSecond;

        // Spinning the last moments before a request is due sends it on time rather than ~30 µs
        // late (bench/: loadgen), for at most 5% of a core whatever the rate.
        var spin = TimeSpan.FromSeconds(Math.Min(MaxSpin.TotalSeconds, SpinShare / run.Profile.RatePerSecond));
        long next = 0;

        // The thread sleeps, wakes and sends what is due at real-time priority where the process may,
        // so neither its wake-up nor its sends wait behind the services for a core; it drops back to
        // normal priority after each batch, so a generator offered more than it can send (it never
        // sleeps then) never holds a core at real-time priority.
        var realTime = false;
        try
        {
            while (true)
            {
                // Everything whose time has come goes now: at rates above the timer's ~1 ms
                // resolution each wake-up sends a batch.
                var due = Math.Min(total, (long)((_time.GetTimestamp() - run.Start) / ticksPerRequest) + 1);
                for (; next < due; next++)
                {
                    Dispatch(run, next, run.Start + (long)(next * ticksPerRequest));
                }

                if (realTime)
                {
                    PreciseSleep.LeaveRealTime();
                    realTime = false;
                }

                if (next >= total)
                {
                    return;
                }

                // The wait is only a hint of when to look again (the schedule itself is read from
                // TimeProvider above), with no thread-pool hop before the scheduler runs again. Long
                // waits: an OS wait that cancellation also ends (~1 ms resolution), stopping 1 ms short.
                // The last millisecond: a microsecond sleep. Rounding it up to a whole millisecond sent
                // requests up to 1 ms late, and their latency, counted from the due time, grew by that
                // (bench/: p50 1.8× wrk's at 1,000 requests a second).
                var wait = _time.GetElapsedTime(_time.GetTimestamp(), run.Start + (long)(next * ticksPerRequest));
                if (wait > TimeSpan.FromMilliseconds(2))
                {
                    if (run.Token.WaitHandle.WaitOne(wait - TimeSpan.FromMilliseconds(1)))
                    {
                        run.Token.ThrowIfCancellationRequested();
                    }
                }
                else if (wait > TimeSpan.Zero)
                {
                    realTime = PreciseSleep.EnterRealTime();
                    PreciseSleep.For(wait, spin);
                    run.Token.ThrowIfCancellationRequested();
                }
            }
        }
        finally
        {
            if (realTime)
            {
                PreciseSleep.LeaveRealTime();
            }
        }
    }

    private void Dispatch(LoadRun run, long sequence, long intended)
    {
        var endpoint = run.Mix.Pick(sequence);
        if (run.TryBegin(endpoint, intended) is not { } pending)
        {
            run.Recorder.RecordDropped(endpoint, intended);
            return;
        }

        HttpRequestMessage request;
        try
        {
            request = CreateRequest(run, endpoint, sequence);
        }
        catch
        {
            // The run fails with the template's exception; this request never existed.
            run.Forget(pending);
            run.Release();
            throw;
        }

        // Not awaited: the send runs on until its first real wait (the request written) and the
        // scheduler moves on; the rest completes on the thread pool.
        _ = SendDetachedAsync(run, pending, request);
    }

    private async Task SendDetachedAsync(LoadRun run, PendingRequest pending, HttpRequestMessage request)
    {
        try
        {
            await SendAsync(run, pending, request);
        }
        finally
        {
            run.Release();
        }
    }
}
