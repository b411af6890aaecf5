using System.Globalization;
using System.Text;
using Firedrill.Lab.Faults;

namespace Firedrill.Lab.Reports;

/// <summary>
/// report.md of <c>firedrill faults</c>: the run, one row per fault (load held, fault, audit,
/// lost, duplicated, recovery, pass), then each fault's promise, checks, figures, evidence and charts.
/// </summary>
internal static class FaultsMarkdown
{
    private const string Missing = "–";

    public static string Render(RunInfo run, IReadOnlyList<FaultReport> reports, IReadOnlyList<ChartFiles> charts)
    {
        var md = new StringBuilder();
        md.Append(CultureInfo.InvariantCulture, $"# Firedrill faults {Markdown.Inline(run.RunId)}\n\n");
        md.Append(CultureInfo.InvariantCulture, $"- **Run:** {Markdown.Code(run.RunId)}\n");
        md.Append(CultureInfo.InvariantCulture, $"- **Started:** {run.StartedAt.ToUniversalTime().ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture)} UTC\n");
        md.Append(CultureInfo.InvariantCulture, $"- **Machine:** {Markdown.Inline(run.Machine)}\n");
        md.Append(CultureInfo.InvariantCulture, $"- **Command:** {Markdown.Code(run.Command)}\n");
        md.Append(CultureInfo.InvariantCulture, $"- **Mode:** {(run.Quick ? "quick (short load: a smoke run)" : "full")}\n");
        md.Append(CultureInfo.InvariantCulture, $"- **Result:** {reports.Count(r => r.Passed)} of {reports.Count} faults hold\n\n");

        md.Append("## Results\n\n");
        md.Append(Markdown.Header("#no.", "fault", "load held: requests, error % during → after", "fault injected", "#audited", "#lost", "#duplicated", "#recovery s", "pass"))
            .Append('\n');
        foreach (var report in reports)
        {
            md.Append(Markdown.Row(
                Markdown.Number(report.Number),
                Markdown.Code(report.Fault, inTable: true),
                report.Error is null
                    ? $"{Markdown.Number(report.Requests)}, {Markdown.Percent(report.ErrorRateDuring)} → {Markdown.Percent(report.ErrorRateAfter)}"
                    : Missing,
                Markdown.Inline(report.Injected),
                report.Error is null ? Markdown.Number(report.Audited) : Missing,
                report.Error is null ? Markdown.Number(report.Lost) : Missing,
                report.Error is null ? Markdown.Number(report.Duplicated) : Missing,
                report.RecoverySeconds is { } recovery ? Markdown.Number(recovery) : Missing,
                report.Passed ? "✓" : report.Error is null ? "✗" : "⚠ error")).Append('\n');
        }

        md.Append('\n');
        for (var i = 0; i < reports.Count; i++)
        {
            Fault(md, reports[i], charts[i]);
        }

        return md.ToString().TrimEnd('\n') + "\n";
    }

    private static void Fault(StringBuilder md, FaultReport report, ChartFiles charts)
    {
        md.Append(CultureInfo.InvariantCulture, $"## {report.Number}. {Markdown.Inline(report.Fault)}: {Markdown.Inline(report.Title)}\n\n");
        md.Append(CultureInfo.InvariantCulture, $"**{(report.Passed ? "✓ holds" : "✗ does not hold")}** ({Markdown.Number(report.Seconds)} s with the fleet's start)");
        md.Append(report.Summary is null ? "\n\n" : $": {Markdown.Paragraph(report.Summary)}\n\n");
        if (report.Error is not null)
        {
            md.Append(CultureInfo.InvariantCulture, $"**Error:** {Markdown.Paragraph(report.Error)}\n\n");
        }

        md.Append(CultureInfo.InvariantCulture, $"- **Promise.** {Markdown.Inline(report.Promise)}\n");
        md.Append(CultureInfo.InvariantCulture, $"- **Injected.** {Markdown.Inline(report.Injected)}\n");
        md.Append(CultureInfo.InvariantCulture, $"- **Audit.** {Markdown.Inline(report.Audit)}\n");
        md.Append(CultureInfo.InvariantCulture, $"- **Recovery.** {Markdown.Inline(report.Recovery)}\n\n");

        if (report.Error is null)
        {
            md.Append(Markdown.Header("#requests", "#error % overall", "#during", "#after", "#audited", "#lost", "#duplicated", "#recovery s")).Append('\n');
            md.Append(Markdown.Row(
                Markdown.Number(report.Requests), Markdown.Percent(report.ErrorRate), Markdown.Percent(report.ErrorRateDuring), Markdown.Percent(report.ErrorRateAfter),
                Markdown.Number(report.Audited), Markdown.Number(report.Lost), Markdown.Number(report.Duplicated),
                report.RecoverySeconds is { } recovery ? Markdown.Number(recovery) : Missing)).Append("\n\n");
        }

        Checks(md, report);
        Figures(md, report.Details);
        Evidence(md, report.Evidence);
        if (charts.All.Any())
        {
            md.Append("### Charts\n\n");
            if (charts.Latency is not null)
            {
                md.Append(CultureInfo.InvariantCulture, $"![latency and errors over the run, by stage]({charts.Latency})\n\n");
            }

            if (charts.Signal is not null)
            {
                md.Append(CultureInfo.InvariantCulture, $"![{Markdown.Inline(string.Join(", ", report.Signals))} over the run]({charts.Signal})\n\n");
            }
        }
    }

    private static void Checks(StringBuilder md, FaultReport report)
    {
        md.Append("### Checks\n\n");
        if (report.Checks.Count == 0)
        {
            md.Append("No check ran.\n\n");
            return;
        }

        md.Append(Markdown.Header("check", "stage", "expect", "#value", "pass")).Append('\n');
        foreach (var check in report.Checks)
        {
            md.Append(Markdown.Row(Markdown.Inline(check.Name), Markdown.Inline(check.Phase), Markdown.Code(check.Expect, inTable: true),
                Markdown.Number(check.Value), check.Pass ? "✓" : "✗")).Append('\n');
        }

        md.Append('\n');
    }

    private static void Figures(StringBuilder md, IReadOnlyDictionary<string, double> figures)
    {
        if (figures.Count == 0)
        {
            return;
        }

        md.Append("### Figures\n\n").Append(Markdown.Header("figure", "#value")).Append('\n');
        foreach (var (name, value) in figures)
        {
            md.Append(Markdown.Row(Markdown.Inline(name), Markdown.Number(value))).Append('\n');
        }

        md.Append('\n');
    }

    private static void Evidence(StringBuilder md, IReadOnlyList<Scenarios.Evidence> evidence)
    {
        if (evidence.Count == 0)
        {
            return;
        }

        md.Append("### Evidence\n\n");
        foreach (var item in evidence)
        {
            md.Append(CultureInfo.InvariantCulture, $"**{Markdown.Inline(item.Name)}** ({Markdown.Inline(item.Phase)})\n\n");
            md.Append(Markdown.CodeBlock($"$ {item.Command}\n{item.Output}")).Append("\n\n");
        }
    }
}
