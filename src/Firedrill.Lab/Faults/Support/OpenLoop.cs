using System.Diagnostics;

namespace Firedrill.Lab.Faults.Support;

/// <summary>
/// An open arrival of work: one item every 1/rate seconds whatever the previous ones are doing,
/// as customers arrive. Bounded three ways: a count, a duration, and <c>stop</c> (the fault ends
/// the load once its last stage has lasted long enough). Each item must bound its own time.
/// </summary>
internal static class OpenLoop
{
    /// <returns>How many items were started.</returns>
    public static async Task<int> RunAsync(double ratePerSecond, TimeSpan maxDuration, int maxCount, Func<int, Task> work,
        CancellationToken stop, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(ratePerSecond);
        var started = Stopwatch.GetTimestamp();
        var running = new List<Task>();
        var next = 0;
        while (next < maxCount && !stop.IsCancellationRequested)
        {
            var elapsed = Stopwatch.GetElapsedTime(started);
            if (elapsed >= maxDuration)
            {
                break;
            }

            var due = Math.Min(maxCount, (int)(elapsed.TotalSeconds * ratePerSecond) + 1);
            for (; next < due; next++)
            {
                running.Add(work(next));
            }

            await Task.Delay(TimeSpan.FromMilliseconds(5), cancellationToken);
        }

        await Task.WhenAll(running);
        return next;
    }
}
