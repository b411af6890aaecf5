using System.Globalization;
using System.Text;
using Firedrill.Lab.Scenarios;

namespace Firedrill.Lab.Reports;

/// <summary>report.md: the run, a results table, then each scenario's verdict, runbook, phases, checks and charts.</summary>
internal static class MarkdownReport
{
    private const string Missing = ReportSections.Missing;

    public static string Render(RunInfo run, IReadOnlyList<ScenarioReport> reports, IReadOnlyList<ChartFiles> charts)
    {
        var md = new StringBuilder();
        ReportSections.RunHeader(md, "Firedrill run", run, "quick (shortened phases: a smoke run, noisier numbers)");
        md.Append('\n');

        md.Append("## Results\n\n");
        md.Append(Markdown.Header("scenario", "variant", "title", "verdict", "p99 ms (baseline → broken → fixed)", "error rate % (baseline → broken → fixed)", "key signal (baseline → broken → fixed)")).Append('\n');
        foreach (var report in reports)
        {
            md.Append(Markdown.Row(
                Markdown.Code(report.Scenario, inTable: true),
                Markdown.Inline(report.Variant ?? Missing),
                Markdown.Inline(report.Title),
                Verdict(report.Verdict),
                Across(report, phase => Markdown.Number(phase.P99Ms)),
                Across(report, phase => Markdown.Percent(phase.ErrorRate)),
                KeySignal(report))).Append('\n');
        }

        md.Append('\n');
        for (var i = 0; i < reports.Count; i++)
        {
            Scenario(md, reports[i], charts[i]);
        }

        return ReportSections.End(md);
    }

    private static void Scenario(StringBuilder md, ScenarioReport report, ChartFiles charts)
    {
        md.Append(CultureInfo.InvariantCulture, $"## {Markdown.Inline(report.Scenario)}: {Markdown.Inline(report.Title)}\n\n");
        md.Append(CultureInfo.InvariantCulture, $"**Verdict:** {Verdict(report.Verdict)}\n\n");
        if (report.Variant is not null)
        {
            md.Append(CultureInfo.InvariantCulture, $"**Variant:** {Markdown.Code(report.Variant)}\n\n");
        }

        if (report.Error is not null)
        {
            md.Append(CultureInfo.InvariantCulture, $"**Error:** {Markdown.Paragraph(report.Error)}\n\n");
        }

        Runbook(md, report.Runbook);
        PhasesTable(md, report);
        ReportSections.Checks(md, report.Checks, "phase");
        ReportSections.Evidence(md, report.Evidence);
        ReportSections.Charts(md, charts, "p50 and p99 latency and error rate over the run", string.Join(", ", new[] { report.KeySignal }.Concat(report.ChartSignals)));
    }

    private static void Runbook(StringBuilder md, Runbook runbook)
    {
        md.Append("### Runbook\n\n");
        md.Append(CultureInfo.InvariantCulture, $"**Symptom.** {Markdown.Paragraph(runbook.Symptom)}\n\n");
        md.Append("**First checks.**\n\n");
        foreach (var check in runbook.FirstChecks)
        {
            md.Append(CultureInfo.InvariantCulture, $"- **{Markdown.Inline(check.Name)}:** {Markdown.Code(check.PromQl)} — {Markdown.Inline(check.Meaning)}\n");
            if (check.Values is { } values)
            {
                var measured = string.Join(" → ", Phases.All.Select(phase =>
                    $"{phase} {(values.GetValueOrDefault(phase) is { } value ? Markdown.Number(value) : "no data")}"));
                md.Append(CultureInfo.InvariantCulture, $"  At the end of each phase: {measured}.\n");
            }
        }

        if (runbook.FirstChecks.Count == 0)
        {
            md.Append("- none listed\n");
        }

        md.Append(CultureInfo.InvariantCulture, $"\n**Root cause.** {Markdown.Paragraph(runbook.RootCause)}\n\n");
        md.Append(CultureInfo.InvariantCulture, $"**Fix.** {Markdown.Paragraph(runbook.Fix)}\n\n");
    }

    private static void PhasesTable(StringBuilder md, ScenarioReport report)
    {
        md.Append("### Phases\n\n");
        var phases = Ordered(report.Phases).ToList();
        if (phases.Count == 0)
        {
            md.Append("No phase ran.\n\n");
            return;
        }

        md.Append(Markdown.Header("phase", "#seconds", "#requests", "#rps", "#p50 ms", "#p95 ms", "#p99 ms", "#error rate %")).Append('\n');
        foreach (var (name, phase) in phases)
        {
            md.Append(Markdown.Row(
                Markdown.Inline(name),
                Markdown.Number(phase.Seconds),
                Markdown.Number(phase.Requests),
                Markdown.Number(phase.Rps),
                Markdown.Number(phase.P50Ms),
                Markdown.Number(phase.P95Ms),
                Markdown.Number(phase.P99Ms),
                Markdown.Percent(phase.ErrorRate))).Append('\n');
        }

        // Signals as rows, phases as columns: signal names are long, and a scenario may have many.
        var signals = phases.SelectMany(phase => phase.Phase.Signals.Keys).Distinct(StringComparer.Ordinal).ToList();
        if (signals.Count > 0)
        {
            md.Append('\n').Append(Markdown.Header(["signal", .. phases.Select(phase => "#" + phase.Name)])).Append('\n');
            foreach (var signal in signals)
            {
                md.Append(Markdown.Row([
                    Markdown.Inline(signal),
                    .. phases.Select(phase => phase.Phase.Signals.TryGetValue(signal, out var value) ? Markdown.Number(value) : Missing),
                ])).Append('\n');
            }
        }

        md.Append('\n');
    }

    private static string Verdict(string verdict)
    {
        var mark = verdict switch
        {
            Verdicts.ReproducedAndFixed => "✓",
            Verdicts.Error => "⚠",
            _ => "✗",
        };
        return $"{mark} {Markdown.Inline(verdict)}";
    }

    private static string Across(ScenarioReport report, Func<PhaseResult, string> format) =>
        string.Join(" → ", Phases.All.Select(name => report.Phases.TryGetValue(name, out var phase) ? format(phase) : Missing));

    private static string KeySignal(ScenarioReport report)
    {
        if (report.KeySignal is not { } key || !report.Phases.Values.Any(phase => phase.Signals.ContainsKey(key)))
        {
            return Missing;
        }

        var values = Across(report, phase => phase.Signals.TryGetValue(key, out var value) ? Markdown.Number(value) : Missing);
        return $"{Markdown.Inline(key)}: {values}";
    }

    /// <summary>baseline, broken, fixed first (the order of the story), then anything else a scenario measured.</summary>
    private static IEnumerable<(string Name, PhaseResult Phase)> Ordered(IReadOnlyDictionary<string, PhaseResult> phases) =>
        Phases.All.Where(phases.ContainsKey).Select(name => (name, phases[name]))
            .Concat(phases.Where(phase => !Phases.All.Contains(phase.Key)).Select(phase => (phase.Key, phase.Value)));
}
