using System.Runtime.InteropServices;

namespace Firedrill.Lab.Load;

/// <summary>
/// Sleeps for less than a millisecond: .NET's waits take whole milliseconds, while Linux's
/// nanosleep wakes within its timer slack (about 50 µs). Elsewhere, a 1 ms sleep.
/// </summary>
internal static partial class PreciseSleep
{
    public static void For(TimeSpan duration)
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

    [LibraryImport("libc", EntryPoint = "nanosleep")]
    private static partial int NanoSleep(in TimeSpec duration, IntPtr remaining);
}
