using Microsoft.Extensions.Time.Testing;

namespace Firedrill.Shop.Tests.Support;

/// <summary>
/// The schedule's clock in a test: a <see cref="FakeTimeProvider"/> that also knows which timers are
/// pending, so the test moves time only once every replica waits for its next tick, and straight to
/// the next one. Which replica runs a window then depends on the lock and on nothing else: not on
/// how late a busy machine fires a timer, nor on a run outlasting the gap between two ticks.
/// </summary>
/// <remarks>
/// Only the schedule uses it (the job's <see cref="TimeProvider"/>); what the job does between two
/// ticks (the lease in PostgreSQL, the run, the inventory call) takes its real time.
/// </remarks>
public sealed class ScheduleClock(DateTimeOffset start) : TimeProvider
{
    private static readonly TimeSpan WaitAtMost = TimeSpan.FromSeconds(60);
    private readonly FakeTimeProvider _fake = new(start);
    private readonly Lock _gate = new();
    private readonly Dictionary<PendingTimer, DateTimeOffset> _pending = [];

    public override DateTimeOffset GetUtcNow() => _fake.GetUtcNow();

    public override TimeZoneInfo LocalTimeZone => TimeZoneInfo.Utc;

    public override long TimestampFrequency => _fake.TimestampFrequency;

    public override long GetTimestamp() => _fake.GetTimestamp();

    /// <summary>When the earliest pending timer is due, if any is.</summary>
    public DateTimeOffset? NextDue
    {
        get
        {
            lock (_gate)
            {
                return _pending.Count == 0 ? null : _pending.Values.Min();
            }
        }
    }

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = new PendingTimer(this);
        Track(timer, dueTime);
        timer.Inner = _fake.CreateTimer(callback, state, dueTime, period);
        return timer;
    }

    /// <summary>Waits until <paramref name="count"/> timers are pending: every replica has finished its tick and waits for the next.</summary>
    public async Task WaitForPendingAsync(int count, CancellationToken cancellationToken = default)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(WaitAtMost);
        while (Pending != count)
        {
            try
            {
                await Task.Delay(TimeSpan.FromMilliseconds(5), deadline.Token);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new TimeoutException($"{Pending} of {count} replicas wait for their next tick after {WaitAtMost.TotalSeconds} s.");
            }
        }
    }

    /// <summary>Moves time to <paramref name="at"/>: the timers due by then fire (and stop counting as pending).</summary>
    public void AdvanceTo(DateTimeOffset at)
    {
        lock (_gate)
        {
            foreach (var due in _pending.Where(pending => pending.Value <= at).Select(pending => pending.Key).ToList())
            {
                _pending.Remove(due);
            }
        }

        if (at > _fake.GetUtcNow())
        {
            _fake.Advance(at - _fake.GetUtcNow());
        }
    }

    private int Pending
    {
        get
        {
            lock (_gate)
            {
                return _pending.Count;
            }
        }
    }

    private void Track(PendingTimer timer, TimeSpan dueTime)
    {
        lock (_gate)
        {
            if (dueTime == Timeout.InfiniteTimeSpan)
            {
                _pending.Remove(timer);
            }
            else
            {
                _pending[timer] = _fake.GetUtcNow() + dueTime;
            }
        }
    }

    private void Forget(PendingTimer timer)
    {
        lock (_gate)
        {
            _pending.Remove(timer);
        }
    }

    private sealed class PendingTimer(ScheduleClock clock) : ITimer
    {
        public ITimer Inner { get; set; } = null!;

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            clock.Track(this, dueTime);
            return Inner.Change(dueTime, period);
        }

        public void Dispose()
        {
            clock.Forget(this);
            Inner.Dispose();
        }

        public ValueTask DisposeAsync()
        {
            clock.Forget(this);
            return Inner.DisposeAsync();
        }
    }
}
