using System.CommandLine;
using Firedrill.Lab.Scenarios;
using Spectre.Console;

namespace Firedrill.Lab.Cli;

internal static class ListCommand
{
    public static Command Create()
    {
        var command = new Command("list", "List the fifteen incidents and which can run.");
        command.SetAction(_ =>
        {
            var table = new Table().AddColumns("id", "title", "runs");
            foreach (var (id, title) in Catalogue.All)
            {
                table.AddRow(id, Markup.Escape(title), Catalogue.IsImplemented(id) ? "[green]yes[/]" : "[grey]not yet[/]");
            }

            AnsiConsole.Write(table);
            return 0;
        });
        return command;
    }
}
