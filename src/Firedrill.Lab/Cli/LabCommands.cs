using System.CommandLine;

namespace Firedrill.Lab.Cli;

/// <summary>The <c>firedrill</c> command line: up, list, run, faults, load, trace, diagnose.</summary>
internal static class LabCommands
{
    public static RootCommand Build()
    {
        var root = new RootCommand("Firedrill: production incidents for .NET, made real, diagnosed and fixed.");
        root.Subcommands.Add(UpCommand.Create());
        root.Subcommands.Add(ListCommand.Create());
        root.Subcommands.Add(RunCommand.Create());
        root.Subcommands.Add(FaultsCommand.Create());
        root.Subcommands.Add(LoadCommand.Create());
        root.Subcommands.Add(TraceCommand.Create());
        root.Subcommands.Add(DiagnoseCommand.Create());
        root.Subcommands.Add(KafkaGroupCommand.Create());
        return root;
    }

    /// <summary>Runs an action, turning the failures a user can act on into one line and exit code 1.</summary>
    public static async Task<int> Guard(Func<Task<int>> action)
    {
        try
        {
            return await action();
        }
        catch (Exception ex) when (ex is LabException or Prometheus.PrometheusNotFoundException or Npgsql.NpgsqlException or FileNotFoundException or ArgumentException)
        {
            await Console.Error.WriteLineAsync($"firedrill: {ex.Message}");
            return 1;
        }
        catch (OperationCanceledException)
        {
            await Console.Error.WriteLineAsync("firedrill: stopped");
            return 130;
        }
    }
}
