using System.Globalization;
using System.Text;
using Firedrill.Lab.Scenarios;

namespace Firedrill.Lab.Reports;

/// <summary>
/// The parts report.md of <c>run</c> (<see cref="MarkdownReport"/>) and of <c>faults</c>
/// (<see cref="FaultsMarkdown"/>) share, so both read alike: the run's header, the checks table,
/// the evidence and the charts. Every block ends with a blank line.
/// </summary>
internal static class ReportSections
{
    public const string Missing = "–";

    /// <summary>The title and the run's facts, one list item each; the caller ends the list.</summary>
    /// <param name="quickMode">How the mode reads for a <c>--quick</c> run.</param>
    public static void RunHeader(StringBuilder md, string title, RunInfo run, string quickMode)
    {
        md.Append(CultureInfo.InvariantCulture, $"# {title} {Markdown.Inline(run.RunId)}\n\n");
        md.Append(CultureInfo.InvariantCulture, $"- **Run:** {Markdown.Code(run.RunId)}\n");
        md.Append(CultureInfo.InvariantCulture, $"- **Started:** {run.StartedAt.ToUniversalTime().ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture)} UTC\n");
        md.Append(CultureInfo.InvariantCulture, $"- **Machine:** {Markdown.Inline(run.Machine)}\n");
        md.Append(CultureInfo.InvariantCulture, $"- **Command:** {Markdown.Code(run.Command)}\n");
        md.Append(CultureInfo.InvariantCulture, $"- **Mode:** {(run.Quick ? quickMode : "full")}\n");
    }

    /// <param name="when">The column naming when a check was measured: a scenario's phase, a fault's stage.</param>
    public static void Checks(StringBuilder md, IReadOnlyList<CheckResult> checks, string when)
    {
        md.Append("### Checks\n\n");
        if (checks.Count == 0)
        {
            md.Append("No check ran.\n\n");
            return;
        }

        md.Append(Markdown.Header("check", when, "expect", "#value", "pass")).Append('\n');
        foreach (var check in checks)
        {
            md.Append(Markdown.Row(
                Markdown.Inline(check.Name),
                Markdown.Inline(check.Phase),
                Markdown.Code(check.Expect, inTable: true),
                Markdown.Number(check.Value),
                check.Pass ? "✓" : "✗")).Append('\n');
        }

        md.Append('\n');
    }

    /// <summary>Each piece of evidence as the command, then what it printed, in one fenced block.</summary>
    public static void Evidence(StringBuilder md, IReadOnlyList<Evidence> evidence)
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

    /// <param name="latency">What the latency chart shows, as its image's text.</param>
    /// <param name="signals">The series on the signal chart, named in its image's text.</param>
    public static void Charts(StringBuilder md, ChartFiles charts, string latency, string signals)
    {
        if (!charts.All.Any())
        {
            return;
        }

        md.Append("### Charts\n\n");
        if (charts.Latency is not null)
        {
            md.Append(CultureInfo.InvariantCulture, $"![{latency}]({charts.Latency})\n\n");
        }

        if (charts.Signal is not null)
        {
            md.Append(CultureInfo.InvariantCulture, $"![{Markdown.Inline(signals)} over the run]({charts.Signal})\n\n");
        }
    }

    /// <summary>The document as written: every block ended with a blank line, the file with one newline.</summary>
    public static string End(StringBuilder md) => md.ToString().TrimEnd('\n') + "\n";
}
