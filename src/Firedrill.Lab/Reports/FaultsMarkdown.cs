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
    private const string Missing = ReportSections.Missing;

    public static string Render(RunInfo run, IReadOnlyList<FaultReport> reports, IReadOnlyList<ChartFiles> charts)
    {
        var md = new StringBuilder();
        ReportSections.RunHeader(md, "Firedrill faults", run, "quick (short load: a smoke run)");
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

        return ReportSections.End(md);
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

        ReportSections.Checks(md, report.Checks, "stage");
        Figures(md, report.Details);
        ReportSections.Evidence(md, report.Evidence);
        ReportSections.Charts(md, charts, "latency and errors over the run, by stage", string.Join(", ", report.Signals));
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
}
