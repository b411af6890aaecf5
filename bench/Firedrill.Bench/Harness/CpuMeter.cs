using System.Globalization;

namespace Firedrill.Bench.Harness;

/// <summary>
/// Where the machine's CPU went while a benchmark ran, per group of processes, from /proc: each
/// process's utime+stime and the machine's busy time, read twice inside the steady part of a run
/// (after the first second, before the last), while every process measured is still alive.
/// </summary>
public sealed class CpuMeter(IReadOnlyDictionary<string, Func<IEnumerable<int>>> groups)
{
    private static readonly double TicksPerSecond = 100; // USER_HZ on Linux

    public static IEnumerable<int> Postgres() => ByName("postgres");

    /// <summary>Every process whose command name is <paramref name="comm"/> (e.g. wrk, pgbench, redis-server).</summary>
    public static IEnumerable<int> ByName(string comm) =>
        Directory.EnumerateDirectories("/proc")
            .Select(d => int.TryParse(Path.GetFileName(d), out var pid) ? pid : 0)
            .Where(pid => pid > 0 && Comm(pid) == comm);

    /// <summary>Samples over the steady window of a run of <paramref name="duration"/> that began just now.</summary>
    public async Task<CpuSplit> SampleAsync(TimeSpan duration, CancellationToken cancellationToken)
    {
        var margin = TimeSpan.FromSeconds(Math.Min(1, duration.TotalSeconds / 5));
        await Task.Delay(margin, cancellationToken);
        var before = Snapshot();
        var started = DateTime.UtcNow;
        await Task.Delay(duration - 2 * margin, cancellationToken);
        var after = Snapshot();
        var seconds = (DateTime.UtcNow - started).TotalSeconds;

        var percent = new Dictionary<string, double>();
        foreach (var (group, ticks) in after.Groups)
        {
            percent[group] = (ticks - before.Groups.GetValueOrDefault(group)) / TicksPerSecond / seconds * 100;
        }

        var busy = (after.MachineBusy - before.MachineBusy) / TicksPerSecond / seconds * 100;
        percent["other"] = Math.Max(0, busy - percent.Values.Sum());
        return new CpuSplit(percent, busy, Environment.ProcessorCount * 100);
    }

    private (Dictionary<string, double> Groups, double MachineBusy) Snapshot()
    {
        var result = new Dictionary<string, double>();
        foreach (var (group, pids) in groups)
        {
            result[group] = pids().Sum(ProcessTicks);
        }

        return (result, MachineBusyTicks());
    }

    private static double ProcessTicks(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            // Fields after the command name, which is in parentheses and may contain spaces.
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return double.Parse(fields[11], CultureInfo.InvariantCulture) + double.Parse(fields[12], CultureInfo.InvariantCulture);
        }
        catch (IOException)
        {
            return 0; // gone
        }
    }

    private static double MachineBusyTicks()
    {
        var cpu = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries)[1..]
            .Select(v => double.Parse(v, CultureInfo.InvariantCulture)).ToArray();
        // user nice system idle iowait irq softirq steal
        return cpu[0] + cpu[1] + cpu[2] + cpu[5] + cpu[6] + cpu[7];
    }

    private static string? Comm(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/comm").Trim();
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }
}

/// <summary>CPU per group in percent of one core, the machine's busy percent, and its capacity (cores × 100).</summary>
public sealed record CpuSplit(IReadOnlyDictionary<string, double> Percent, double Busy, double Capacity)
{
    public override string ToString() =>
        string.Join(", ", Percent.Where(p => p.Value >= 0.5).OrderByDescending(p => p.Value).Select(p => $"{p.Key} {p.Value:0}%"))
        + string.Create(CultureInfo.InvariantCulture, $" (machine {Busy:0}% of {Capacity:0}%)");

    /// <summary>CPU microseconds a group spent per unit of work at <paramref name="perSecond"/> units a second.</summary>
    public double MicrosecondsPer(string group, double perSecond) =>
        perSecond <= 0 ? double.NaN : Percent.GetValueOrDefault(group) / 100 / perSecond * 1e6;
}
