using System.CommandLine;
using Firedrill.Lab.Scenarios;
using Spectre.Console;

namespace Firedrill.Lab.Cli;

internal static class ListCommand
{
    public static Command Create()
    {
        var command = new Command("list", "List the fifteen incidents, their variants (the default first) and which can run.");
        command.SetAction(_ =>
        {
            var table = new Table().AddColumns("id", "title", "variants (--variant NAME)", "runs");
            foreach (var (id, title, variants) in Catalogue.All)
            {
                table.AddRow(id, Markup.Escape(title), string.Join(", ", variants), Catalogue.IsImplemented(id) ? "[green]yes[/]" : "[grey]not yet[/]");
            }

            AnsiConsole.Write(table);
            return 0;
        });
        return command;
    }
}
