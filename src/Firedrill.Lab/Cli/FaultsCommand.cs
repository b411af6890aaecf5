using System.CommandLine;
using System.Globalization;
using Firedrill.Lab.Faults;
using Firedrill.Lab.Reports;
using Spectre.Console;

namespace Firedrill.Lab.Cli;

/// <summary><c>firedrill faults [ID...] [--quick] [--json FILE] [--report DIR]</c></summary>
internal static class FaultsCommand
{
    public static Command Create()
    {
        var ids = new Argument<string[]>("fault")
        {
            Arity = ArgumentArity.ZeroOrMore,
            Description = "Faults by id or number (default: all of them): " + string.Join(", ", FaultCatalogue.All.Select(f => $"{f.Number} {f.Id}")),
        };
        var quick = new Option<bool>("--quick") { Description = "Short load per fault (a smoke run); the audits are the same." };
        var json = new Option<FileInfo?>("--json") { Description = "Also write the list of results to this file." };
        var report = new Option<DirectoryInfo?>("--report") { Description = "Where run folders go (default: runs/)." };
        var command = new Command("faults", "Prove the correct shop keeps its promises under the faults production brings: inject each for real under load, audit.")
        {
            ids, quick, json, report,
        };
        command.Validators.Add(result =>
        {
            foreach (var id in result.GetValue(ids) ?? [])
            {
                if (FaultCatalogue.Find(id) is null)
                {
                    result.AddError($"unknown fault '{id}'; the faults are {string.Join(", ", FaultCatalogue.All.Select(f => $"{f.Number} {f.Id}"))}");
                }
            }
        });
        command.SetAction((parse, cancellationToken) => LabCommands.Guard(() => RunAsync(
            parse.GetValue(ids) ?? [], parse.GetValue(quick), parse.GetValue(json), parse.GetValue(report), cancellationToken)));
        return command;
    }

    private static async Task<int> RunAsync(string[] ids, bool quick, FileInfo? json, DirectoryInfo? reportRoot, CancellationToken cancellationToken)
    {
        if (json is { Directory.Exists: false })
        {
            throw new ArgumentException($"--json: the folder {json.DirectoryName} does not exist");
        }

        var faults = ids.Length == 0
            ? FaultCatalogue.All
            : ids.Select(id => FaultCatalogue.Find(id)!).DistinctBy(fault => fault.Id).ToList();
        var folder = LabEnvironment.NewRunFolder(reportRoot?.FullName);
        var runner = new FaultRunner(LabEnvironment.FleetDefaults(folder, replicas: 2), quick, TimeProvider.System);
        runner.Progress += (id, step) => Console.Error.WriteLine($"{id}: {step}");

        var reports = new List<FaultReport>();
        foreach (var fault in faults)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var result = await runner.RunAsync(fault, cancellationToken);
            reports.Add(result);
            Console.Error.WriteLine($"{fault.Id}: {(result.Passed ? "holds" : "DOES NOT HOLD")}{(result.Error is null ? "" : $" ({result.Error})")}");
        }

        var run = new RunInfo(Path.GetFileName(folder), DateTimeOffset.UtcNow, $"{Environment.ProcessorCount} cores",
            "firedrill faults " + string.Join(' ', ids) + (quick ? " --quick" : ""), quick);
        await FaultReportWriter.WriteAsync(folder, run, reports, cancellationToken);
        if (json is not null)
        {
            await File.WriteAllTextAsync(json.FullName, FaultReportWriter.ToJson(reports), cancellationToken);
        }

        var table = new Table().AddColumns("#", "fault", "requests", "error % during → after", "audited", "lost", "duplicated", "recovery s", "result");
        foreach (var result in reports)
        {
            table.AddRow(
                result.Number.ToString(CultureInfo.InvariantCulture),
                result.Fault,
                result.Requests.ToString(CultureInfo.InvariantCulture),
                string.Create(CultureInfo.InvariantCulture, $"{result.ErrorRateDuring * 100:0.##} → {result.ErrorRateAfter * 100:0.##}"),
                result.Audited.ToString(CultureInfo.InvariantCulture),
                result.Lost.ToString(CultureInfo.InvariantCulture),
                result.Duplicated.ToString(CultureInfo.InvariantCulture),
                result.RecoverySeconds?.ToString("0.##", CultureInfo.InvariantCulture) ?? "-",
                result.Passed ? "[green]holds[/]" : $"[red]{Markup.Escape(result.Error ?? $"{result.Checks.Count(c => !c.Pass)} check(s) failed")}[/]");
        }

        AnsiConsole.Write(table);
        AnsiConsole.MarkupLine($"report: [link]{Markup.Escape(Path.Combine(folder, ReportWriter.MarkdownFile))}[/]");
        return reports.All(result => result.Passed) ? 0 : 1;
    }
}
