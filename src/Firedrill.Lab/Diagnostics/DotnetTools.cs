using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Firedrill.Lab.Diagnostics;

/// <summary>
/// The .NET diagnostics tools (dotnet-stack, dotnet-gcdump, dotnet-counters) pinned in the
/// repository's local tool manifest (<c>.config/dotnet-tools.json</c>, restored by ./firedrill and
/// eng/test.sh). They run from the repository's root, where <c>dotnet TOOL</c> finds the manifest:
/// the command a user types there is exactly the one the lab runs.
/// </summary>
public static class DotnetTools
{
    public const string Stack = "dotnet-stack";
    public const string GcDump = "dotnet-gcdump";
    public const string Counters = "dotnet-counters";

    private const string Manifest = ".config/dotnet-tools.json";

    /// <summary>The folder holding the tool manifest: the repository the lab was built from.</summary>
    public static string Root { get; } = FindRoot();

    /// <summary>The command line as a user types it in the repository.</summary>
    public static string CommandLine(string tool, IEnumerable<string> arguments) => string.Join(' ', ["dotnet", tool, .. arguments]);

    public static string[] StackReport(int pid) => ["report", "-p", Pid(pid)];

    public static string[] HeapReport(int pid) => ["report", "-p", Pid(pid)];

    public static string[] CountersMonitor(int pid, TimeSpan duration) =>
        ["monitor", "-p", Pid(pid), "--counters", "System.Runtime", "--duration", duration.ToString(@"dd\:hh\:mm\:ss", CultureInfo.InvariantCulture)];

    /// <summary>Starts the tool with its output going where <paramref name="start"/> says (inherited when not redirected).</summary>
    public static ProcessStartInfo StartInfo(string tool, IEnumerable<string> arguments, bool redirect)
    {
        var start = new ProcessStartInfo("dotnet", [tool, .. arguments])
        {
            WorkingDirectory = Root,
            RedirectStandardOutput = redirect,
            RedirectStandardError = redirect,
        };
        // The tools print their own banners and first-run notices otherwise.
        start.Environment["DOTNET_NOLOGO"] = "1";
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        return start;
    }

    /// <summary>Runs a tool to its end and returns everything it printed (stdout, then stderr), bounded in time.</summary>
    public static async Task<ToolOutput> RunAsync(string tool, IReadOnlyList<string> arguments, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var process = Process.Start(StartInfo(tool, arguments, redirect: true))
            ?? throw new InvalidOperationException($"could not start dotnet {tool}");
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
            return new ToolOutput(CommandLine(tool, arguments), -1, await stdout, $"(stopped after {timeout.TotalSeconds:0} s)");
        }

        return new ToolOutput(CommandLine(tool, arguments), process.ExitCode, await stdout, await stderr);
    }

    private static string Pid(int pid) => pid.ToString(CultureInfo.InvariantCulture);

    private static string FindRoot()
    {
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
        {
            if (File.Exists(Path.Combine(folder.FullName, Manifest)))
            {
                return folder.FullName;
            }
        }

        return Directory.GetCurrentDirectory();
    }
}

/// <summary>What a tool printed, with the command line that ran it.</summary>
public sealed record ToolOutput(string Command, int ExitCode, string Stdout, string Stderr)
{
    /// <summary>Everything printed, as a user would see it in a terminal (the exit code noted if it failed).</summary>
    public string Text
    {
        get
        {
            var text = new StringBuilder(Stdout.TrimEnd());
            if (Stderr.Trim().Length > 0)
            {
                text.Append('\n').Append(Stderr.TrimEnd());
            }

            if (ExitCode != 0)
            {
                text.Append(CultureInfo.InvariantCulture, $"\n(exit code {ExitCode})");
            }

            return text.ToString().Trim();
        }
    }
}
