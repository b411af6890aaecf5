using System.Diagnostics;

namespace Firedrill.Lab.Diagnostics;

/// <summary>What the operating system says about a live process: the CPU time it has used.</summary>
public static class LiveProcess
{
    /// <summary>User plus system CPU time so far (from /proc on Linux); zero if it has exited.</summary>
    public static TimeSpan CpuTime(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return process.TotalProcessorTime;
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException)
        {
            return TimeSpan.Zero;
        }
    }
}
