using System.Diagnostics;

namespace Firedrill.Lab.Tests.Support;

/// <summary>The <c>firedrill</c> CLI as a real process, as a user runs it.</summary>
internal static class LabCli
{
    /// <summary>
    /// A run that starts a whole fleet (<c>run</c>, <c>faults</c>): it waits for one of
    /// <see cref="FleetSlots"/> before it starts, so the lanes never run more fleets at once than the
    /// machine was given.
    /// </summary>
    public static async Task<(int ExitCode, string Output)> RunFleetAsync(string workingDirectory, params string[] args)
    {
        await FleetSlots.Gate.WaitAsync();
        try
        {
            return await RunAsync(workingDirectory, args);
        }
        finally
        {
            FleetSlots.Gate.Release();
        }
    }

    public static async Task<(int ExitCode, string Output)> RunAsync(string workingDirectory, params string[] args)
    {
        using var process = Process.Start(StartInfo(workingDirectory, args))!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"firedrill {string.Join(' ', args)} ran for more than 3 minutes");
        }

        return (process.ExitCode, await stdout + await stderr);
    }

    /// <summary>The CLI's command line, its runs under <paramref name="workingDirectory"/>, its output redirected.</summary>
    public static ProcessStartInfo StartInfo(string workingDirectory, params string[] args)
    {
        // The lab's own build output (artifacts/bin/Firedrill.Lab/<configuration>), beside this assembly's.
        var mine = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var dll = Path.Combine(mine.Parent!.Parent!.FullName, "Firedrill.Lab", mine.Name, "firedrill.dll");
        var start = new ProcessStartInfo("dotnet", [dll, .. args])
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.Environment["ConnectionStrings__Postgres"] = Engines.Postgres;
        start.Environment["ConnectionStrings__Redis"] = Engines.Redis;
        start.Environment["FIREDRILL_RUNS"] = workingDirectory;
        return start;
    }
}
