using System.Diagnostics;
using System.Globalization;

namespace Firedrill.Lab.Prometheus;

/// <summary>
/// For helper processes that are not ours to change (Prometheus, postgres_exporter): a small shell
/// loop stops the child if the lab dies without disposing it (SIGKILL), so no orphan keeps its
/// port or keeps polling a dead fleet. The loop ends with the child.
/// </summary>
internal static class LabWatch
{
    public static void StopWhenLabDies(int childPid)
    {
        var lab = Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
        var child = childPid.ToString(CultureInfo.InvariantCulture);
        var watcher = new ProcessStartInfo("/bin/sh")
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        watcher.ArgumentList.Add("-c");
        watcher.ArgumentList.Add($"while kill -0 {lab} 2>/dev/null && kill -0 {child} 2>/dev/null; do sleep 1; done; kill {child} 2>/dev/null");
        using var started = Process.Start(watcher);
    }
}
