using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using Firedrill.Lab.Scenarios;

namespace Firedrill.Lab.Reports;

/// <summary>Writes a run's report folder (report.md, report.json, charts/*.png) and the <c>--json FILE</c> document.</summary>
public static class ReportWriter
{
    public const string MarkdownFile = "report.md";
    public const string JsonFile = "report.json";

    internal static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        // Absent, not null: "error" only appears on an errored scenario, "key_signal" only where there is one.
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        // A NaN from a failed measurement must not cost the whole report; it is written as "NaN".
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        // The file is read by people and tools, never embedded in HTML: keep "> 0" as written.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>Writes report.md, report.json and each scenario's charts into <paramref name="folder"/>; returns the paths written.</summary>
    public static async Task<IReadOnlyList<string>> WriteAsync(string folder, RunInfo run, IReadOnlyList<ScenarioReport> reports, CancellationToken ct)
    {
        Directory.CreateDirectory(folder);
        var written = new List<string>();
        var charts = new List<ChartFiles>();
        var stems = new HashSet<string>(StringComparer.Ordinal);
        foreach (var report in reports)
        {
            ct.ThrowIfCancellationRequested();
            var files = ReportCharts.Write(folder, UniqueStem(report.Scenario, stems), report);
            charts.Add(files);
            written.AddRange(files.All.Select(file => Path.Combine(folder, file)));
        }

        var markdown = Path.Combine(folder, MarkdownFile);
        await File.WriteAllTextAsync(markdown, MarkdownReport.Render(run, reports, charts), ct);
        written.Add(markdown);

        // The same document as --json FILE, so a run folder and a CI artifact are read by the same code.
        var json = Path.Combine(folder, JsonFile);
        await File.WriteAllTextAsync(json, ToJson(reports) + "\n", ct);
        written.Add(json);
        return written;
    }

    /// <summary>One scenario: its object, as in DESIGN.md's scenario contract (plus the model's extra fields); several: an array of them.</summary>
    public static string ToJson(IReadOnlyList<ScenarioReport> reports) =>
        reports.Count == 1
            ? JsonSerializer.Serialize(reports[0], JsonOptions)
            : JsonSerializer.Serialize(reports, JsonOptions);

    /// <summary>A file name stem from a scenario id; a run that repeats a scenario gets "-2", "-3", ... rather than overwriting its charts.</summary>
    private static string UniqueStem(string scenario, HashSet<string> taken)
    {
        var invalid = Path.GetInvalidFileNameChars();
        var stem = new string(scenario.Select(c => invalid.Contains(c) || char.IsWhiteSpace(c) ? '-' : c).ToArray());
        stem = stem.Length == 0 ? "scenario" : stem;
        var unique = stem;
        for (var n = 2; !taken.Add(unique); n++)
        {
            unique = $"{stem}-{n}";
        }

        return unique;
    }
}
