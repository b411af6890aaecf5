using System.Diagnostics;
using System.Text;

namespace Firedrill.Lab.Scenarios;

/// <summary>
/// Runs a command line with bash, as a user would paste it, and returns what it printed — for a
/// scenario that measures with the same command it shows (curl), without making each run a piece
/// of evidence of its own.
/// </summary>
internal static class ShellCommand
{
    public static async Task<(int ExitCode, string Output)> RunAsync(string command, string workingDirectory, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo("bash", ["-c", command])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = workingDirectory,
        };
        using var process = Process.Start(start) ?? throw new InvalidOperationException("Could not start bash.");
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        using var bound = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bound.CancelAfter(timeout);
        try
        {
            await process.WaitForExitAsync(bound.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            process.Kill(entireProcessTree: true);
            return (-1, $"(stopped after {timeout.TotalSeconds:0} s)");
        }

        var output = new StringBuilder(await stdout);
        var errors = await stderr;
        if (errors.Length > 0)
        {
            output.Append(errors);
        }

        return (process.ExitCode, output.ToString());
    }
}
