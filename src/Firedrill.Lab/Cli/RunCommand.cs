using System.CommandLine;
using System.Globalization;
using Firedrill.Lab.Reports;
using Firedrill.Lab.Scenarios;
using Spectre.Console;

namespace Firedrill.Lab.Cli;

/// <summary><c>firedrill run &lt;id&gt;... | --all [--quick] [--json FILE] [--report DIR]</c></summary>
internal static class RunCommand
{
    public static Command Create()
    {
        var ids = new Argument<string[]>("scenario") { Arity = ArgumentArity.ZeroOrMore, Description = "Scenario ids (see 'firedrill list')." };
        var all = new Option<bool>("--all") { Description = "Run every implemented scenario." };
        var quick = new Option<bool>("--quick") { Description = "Short phases (each scenario in about 40 s); thresholds keep their margins." };
        var json = new Option<FileInfo?>("--json") { Description = "Also write the JSON report to this file." };
        var report = new Option<DirectoryInfo?>("--report") { Description = "Where run folders go (default: runs/)." };
        var variant = new Option<string?>("--variant") { Description = "Which cause of the incident to run (one scenario only; 'firedrill list' shows them). Default: the first." };
        var command = new Command("run", "Run incidents: baseline, broken, fixed; verdicts and a report.") { ids, all, quick, json, report, variant };
        command.Validators.Add(result =>
        {
            var named = result.GetValue(ids) ?? [];
            if (named.Length == 0 && !result.GetValue(all))
            {
                result.AddError("name at least one scenario, or use --all");
            }
            else if (named.Length > 0 && result.GetValue(all))
            {
                result.AddError("name scenarios or use --all, not both");
            }

            if (result.GetValue(variant) is { } name)
            {
                if (named.Length != 1)
                {
                    result.AddError("--variant goes with exactly one scenario");
                }
                else if (Catalogue.All.FirstOrDefault(entry => entry.Id == named[0]) is { } entry && !entry.Variants.Contains(name))
                {
                    result.AddError($"{entry.Id} has no variant '{name}'; its variants are {string.Join(", ", entry.Variants)}");
                }
            }

            foreach (var id in named)
            {
                if (!Catalogue.IsKnown(id))
                {
                    result.AddError($"unknown scenario '{id}'; 'firedrill list' shows them");
                }
                else if (!Catalogue.IsImplemented(id))
                {
                    result.AddError($"scenario '{id}' is not implemented yet; 'firedrill list' shows those that run");
                }
            }
        });
        command.SetAction((parse, cancellationToken) => LabCommands.Guard(() => RunAsync(
            parse.GetValue(all) ? [.. Catalogue.ImplementedIds] : parse.GetValue(ids)!,
            parse.GetValue(quick), parse.GetValue(variant), parse.GetValue(json), parse.GetValue(report), cancellationToken)));
        return command;
    }

    private static async Task<int> RunAsync(string[] ids, bool quick, string? variant, FileInfo? json, DirectoryInfo? reportRoot, CancellationToken cancellationToken)
    {
        if (json is { Directory.Exists: false })
        {
            throw new ArgumentException($"--json: the folder {json.DirectoryName} does not exist");
        }

        var folder = LabEnvironment.NewRunFolder(reportRoot?.FullName);
        var defaults = LabEnvironment.FleetDefaults(folder, replicas: 2);
        var runner = new ScenarioRunner(defaults, quick, TimeProvider.System);
        var interactive = AnsiConsole.Profile.Capabilities.Interactive;
        runner.Progress += (id, step, load) =>
        {
            var line = load is null ? $"{id}: {step}" : string.Create(CultureInfo.InvariantCulture,
                $"{id}: {load.Elapsed.TotalSeconds:0} s, {load.Completed} requests, {load.Errors} errors");
            if (load is null || interactive)
            {
                Console.Error.WriteLine(line);
            }
        };

        var reports = new List<ScenarioReport>();
        foreach (var id in ids)
        {
            cancellationToken.ThrowIfCancellationRequested();
            reports.Add(await runner.RunAsync(Catalogue.Create(id, variant), cancellationToken));
        }

        var run = new RunInfo(Path.GetFileName(folder), DateTimeOffset.UtcNow, $"{Environment.ProcessorCount} cores",
            "firedrill run " + string.Join(' ', ids) + (variant is null ? "" : $" --variant {variant}") + (quick ? " --quick" : ""), quick);
        await ReportWriter.WriteAsync(folder, run, reports, cancellationToken);
        if (json is not null)
        {
            await File.WriteAllTextAsync(json.FullName, ReportWriter.ToJson(reports), cancellationToken);
        }

        var table = new Table().AddColumns("scenario", "variant", "verdict", "broken p99 ms", "fixed p99 ms", "checks");
        foreach (var report in reports)
        {
            var colour = report.Verdict == Verdicts.ReproducedAndFixed ? "green" : "red";
            table.AddRow(report.Scenario, report.Variant ?? "", $"[{colour}]{report.Verdict}[/]",
                P99(report, Phases.Broken), P99(report, Phases.Fixed),
                Markup.Escape(report.Error ?? $"{report.Checks.Count(c => c.Pass)}/{report.Checks.Count} pass"));
        }

        AnsiConsole.Write(table);
        AnsiConsole.MarkupLine($"report: [link]{Markup.Escape(Path.Combine(folder, "report.md"))}[/]");
        return reports.All(report => report.Verdict == Verdicts.ReproducedAndFixed) ? 0 : 1;
    }

    private static string P99(ScenarioReport report, string phase) =>
        report.Phases.TryGetValue(phase, out var result) ? result.P99Ms.ToString("0.#", CultureInfo.InvariantCulture) : "-";
}
