using System.CommandLine;
using System.Diagnostics;
using Firedrill.Lab.Diagnostics;
using Firedrill.Lab.Fleet;

namespace Firedrill.Lab.Cli;

/// <summary>
/// <c>firedrill diagnose &lt;service&gt; stacks|heap|counters</c>: the .NET diagnostics tool an
/// engineer would run against a live service of the fleet <c>firedrill up</c> started — its
/// command line first, so the user learns it, then what it prints.
/// </summary>
internal static class DiagnoseCommand
{
    private static readonly string[] Views = ["stacks", "heap", "counters"];
    private static readonly TimeSpan CountersDuration = TimeSpan.FromSeconds(5);

    public static Command Create()
    {
        var service = new Argument<string>("service") { Description = "A service of the running fleet: gateway, inventory, shop-1, shop-2..." };
        var view = new Argument<string>("what") { Description = "stacks (dotnet-stack report), heap (dotnet-gcdump report) or counters (dotnet-counters monitor, 5 s)." };
        view.AcceptOnlyFromAmong(Views);
        var command = new Command("diagnose", "Run a .NET diagnostics tool against a live service of 'firedrill up' and print its command line and output.") { service, view };
        command.SetAction((parse, cancellationToken) => LabCommands.Guard(() => DiagnoseAsync(parse.GetValue(service)!, parse.GetValue(view)!, cancellationToken)));
        return command;
    }

    private static async Task<int> DiagnoseAsync(string name, string view, CancellationToken cancellationToken)
    {
        var fleet = FleetFile.FindRunning(LabEnvironment.RunsRoot)
            ?? throw new LabException("no fleet is running: start one with ./firedrill up");
        var running = fleet.Running.ToList();
        var target = running.FirstOrDefault(service => string.Equals(service.Name, name, StringComparison.OrdinalIgnoreCase))
            ?? throw new LabException($"{(fleet.Services.Any(service => string.Equals(service.Name, name, StringComparison.OrdinalIgnoreCase)) ? $"'{name}' is not running" : $"no service '{name}'")}; running: {string.Join(", ", running.Select(service => service.Name))}");

        var (tool, arguments) = view switch
        {
            "stacks" => (DotnetTools.Stack, DotnetTools.StackReport(target.Pid)),
            "heap" => (DotnetTools.GcDump, DotnetTools.HeapReport(target.Pid)),
            _ => (DotnetTools.Counters, DotnetTools.CountersMonitor(target.Pid, CountersDuration)),
        };
        Console.WriteLine($"$ {DotnetTools.CommandLine(tool, arguments)}");
        await Console.Out.FlushAsync(cancellationToken);
        // The tool writes straight to this terminal: dotnet-counters redraws its table in place.
        using var process = Process.Start(DotnetTools.StartInfo(tool, arguments, redirect: false))
            ?? throw new LabException($"could not start dotnet {tool}");
        await process.WaitForExitAsync(cancellationToken);
        if (process.ExitCode != 0)
        {
            await Console.Error.WriteLineAsync($"firedrill: dotnet {tool} exited with code {process.ExitCode}; are the tools restored? run: dotnet tool restore (in {DotnetTools.Root})");
            return 1;
        }

        return 0;
    }
}
