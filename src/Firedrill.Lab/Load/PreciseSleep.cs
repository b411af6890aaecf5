using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Firedrill.Lab.Load;

/// <summary>
/// Waits for the open model's scheduler thread, which must wake on time. .NET's waits take whole
/// milliseconds; Linux's nanosleep wakes within the thread's timer slack, and the last few
/// microseconds spin (elsewhere, a 1 ms sleep). On a machine the generator shares with the services
/// it loads, a woken thread may also wait for a core: where the process may (root, or
/// CAP_SYS_NICE), the scheduler raises itself to real-time priority around its waits.
/// </summary>
internal static partial class PreciseSleep
{
    private const int SetTimerSlack = 29; // PR_SET_TIMERSLACK
    private const nuint TimerSlackNanoseconds = 1_000;
    private const int SchedOther = 0;
    private const int SchedFifo = 1;

    // Cleared the first time the kernel refuses, so an unprivileged process stops asking.
    private static volatile bool s_realTimeAllowed = OperatingSystem.IsLinux();

    /// <summary>
    /// Makes the calling thread's sleeps end within about 1 µs of their time, not Linux's default
    /// 50 µs of slack: the scheduler thread woke a median 79 µs after a request was due (30 µs with
    /// this), and each request's latency, counted from its due time, carried that.
    /// </summary>
    public static void TightenTimerSlack()
    {
        if (OperatingSystem.IsLinux())
        {
            _ = Prctl(SetTimerSlack, TimerSlackNanoseconds, 0, 0, 0);
        }
    }

    /// <summary>
    /// Sleeps for <paramref name="duration"/>, the last <paramref name="spin"/> of it spinning: a
    /// sleeping thread wakes some 30 µs after its time even with a tight slack (the timer interrupt
    /// and the switch back), a spinning one is already running.
    /// </summary>
    public static void For(TimeSpan duration, TimeSpan spin)
    {
        var end = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        if (duration > spin)
        {
            Sleep(duration - spin);
        }

        while (Stopwatch.GetTimestamp() < end)
        {
            Thread.SpinWait(20);
        }
    }

    /// <summary>
    /// Raises the calling thread to real-time priority (SCHED_FIFO 1) where the process may; false
    /// where it may not. Measured with another process keeping both cores busy, a wake-up's p99
    /// lateness was 711 µs at normal priority and 22 µs at real-time priority.
    /// </summary>
    public static bool EnterRealTime() => s_realTimeAllowed && SetPolicy(SchedFifo, priority: 1);

    /// <summary>Back to normal priority (SCHED_OTHER).</summary>
    public static void LeaveRealTime() => SetPolicy(SchedOther, priority: 0);

    private static bool SetPolicy(int policy, int priority)
    {
        // pid 0: the calling thread (Linux schedules threads, not processes).
        var parameters = new SchedParam { Priority = priority };
        if (SchedSetScheduler(0, policy, in parameters) == 0)
        {
            return true;
        }

        s_realTimeAllowed = false;
        return false;
    }

    private static void Sleep(TimeSpan duration)
    {
        if (!OperatingSystem.IsLinux())
        {
            Thread.Sleep(1);
            return;
        }

        var time = new TimeSpec { Seconds = (long)duration.TotalSeconds, Nanoseconds = duration.Ticks % TimeSpan.TicksPerSecond * 100 };
        _ = NanoSleep(in time, IntPtr.Zero);
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct SchedParam
    {
        public int Priority;
    }

    [LibraryImport("libc", EntryPoint = "nanosleep")]
    private static partial int NanoSleep(in TimeSpec duration, IntPtr remaining);

    [LibraryImport("libc", EntryPoint = "prctl")]
    private static partial int Prctl(int option, nuint arg2, nuint arg3, nuint arg4, nuint arg5);

    [LibraryImport("libc", EntryPoint = "sched_setscheduler")]
    private static partial int SchedSetScheduler(int pid, int policy, in SchedParam parameters);
}
