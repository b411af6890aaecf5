using System.Diagnostics;
using Firedrill.Lab.Load;

namespace Firedrill.Lab.Tests.Load;

public sealed class PreciseSleepTests
{
    [Fact]
    public void For_ShortWaits_NeverReturnEarly()
    {
        PreciseSleep.TightenTimerSlack();
        foreach (var micros in new[] { 1, 20, 80, 300, 900 })
        {
            var start = Stopwatch.GetTimestamp();
            PreciseSleep.For(TimeSpan.FromMicroseconds(micros), TimeSpan.FromMicroseconds(50));
            var slept = Stopwatch.GetElapsedTime(start);
            Assert.True(slept >= TimeSpan.FromMicroseconds(micros), $"asked for {micros} µs, returned after {slept.TotalMicroseconds:0} µs");
        }
    }

    [Fact]
    public void LeaveRealTime_AfterEnterRealTime_HandsTheThreadBackAtNormalPriority()
    {
        int during = -1, after = -1;
        var entered = false;
        var thread = new Thread(() =>
        {
            entered = PreciseSleep.EnterRealTime();
            during = CurrentThreadPolicy();
            PreciseSleep.LeaveRealTime();
            after = CurrentThreadPolicy();
        });
        thread.Start();
        thread.Join();

        // SCHED_FIFO while raised, where this process may raise it (as root); SCHED_OTHER afterwards either way.
        Assert.Equal(entered ? 1 : 0, during);
        Assert.Equal(0, after);
    }

    /// <summary>The calling thread's scheduling policy: field 41 of /proc/thread-self/stat (0 is SCHED_OTHER, 1 SCHED_FIFO).</summary>
    private static int CurrentThreadPolicy()
    {
        var stat = File.ReadAllText("/proc/thread-self/stat");
        // The command name (field 2) may hold spaces; the fields after it start with field 3.
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return int.Parse(fields[41 - 3], System.Globalization.CultureInfo.InvariantCulture);
    }
}
