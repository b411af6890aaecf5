using System.Text.Json;
using Firedrill.Lab.Faults;

namespace Firedrill.Lab.Reports;

/// <summary>Writes the folder of a <c>firedrill faults</c> run (report.md, report.json, charts/*.png) and the <c>--json FILE</c> list.</summary>
public static class FaultReportWriter
{
    /// <summary>Writes report.md, report.json and each fault's charts into <paramref name="folder"/>; returns the paths written.</summary>
    public static async Task<IReadOnlyList<string>> WriteAsync(string folder, RunInfo run, IReadOnlyList<FaultReport> reports, CancellationToken ct)
    {
        Directory.CreateDirectory(folder);
        var written = new List<string>();
        var charts = new List<ChartFiles>();
        foreach (var report in reports)
        {
            ct.ThrowIfCancellationRequested();
            var files = ReportCharts.Write(folder, $"{report.Number:00}-{report.Fault}", $"{report.Number}. {report.Fault}", report.Timeline,
                report.Signals.Count > 0 ? report.Signals[0] : null, [.. report.Signals.Skip(1)]);
            charts.Add(files);
            written.AddRange(files.All.Select(file => Path.Combine(folder, file)));
        }

        var markdown = Path.Combine(folder, ReportWriter.MarkdownFile);
        await File.WriteAllTextAsync(markdown, FaultsMarkdown.Render(run, reports, charts), ct);
        written.Add(markdown);
        var json = Path.Combine(folder, ReportWriter.JsonFile);
        await File.WriteAllTextAsync(json, ToJson(reports) + "\n", ct);
        written.Add(json);
        return written;
    }

    /// <summary>Always a list, one object per fault, whatever their number.</summary>
    public static string ToJson(IReadOnlyList<FaultReport> reports) => JsonSerializer.Serialize(reports, ReportWriter.JsonOptions);
}
