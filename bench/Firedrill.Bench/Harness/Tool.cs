using System.Diagnostics;

namespace Firedrill.Bench.Harness;

/// <summary>Runs a command-line tool (wrk, pgbench, firedrill load) to completion, measuring the machine meanwhile.</summary>
internal static class Tool
{
    public sealed record Output(string StandardOutput, string StandardError, CpuSplit? Cpu);

    public static async Task<Output> RunAsync(
        string file, IEnumerable<string> arguments, TimeSpan duration, CpuMeter? cpu, CancellationToken cancellationToken,
        IReadOnlyDictionary<string, string>? environment = null, TimeSpan warmup = default)
    {
        var start = new ProcessStartInfo(file, arguments) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value;
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {file}");
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        // The CPU is sampled over the measured part only, after the tool's own warm-up.
        await Task.Delay(warmup, cancellationToken);
        var split = cpu is null ? null : await cpu.SampleAsync(duration, cancellationToken);
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(warmup + duration + TimeSpan.FromSeconds(60));
        try
        {
            await process.WaitForExitAsync(limit.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} did not finish within {duration.TotalSeconds + 60:0} s");
        }

        var output = new Output(await stdout, await stderr, split);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} exited with {process.ExitCode}: {output.StandardError.Trim()} {output.StandardOutput.Trim()}".Trim());
        }

        return output;
    }
}
