using System.Text.Json;

namespace Firedrill.Lab.Tests.Support;

/// <summary>
/// One incident variant run as a user runs it — <c>firedrill run ID --variant NAME --quick --json F</c>,
/// a real process with its own fleet — and judged by its JSON: the verdict, every check, the
/// runbook's values per phase, the evidence and the report's files (SCENARIOS.md, "Definition of done").
/// </summary>
internal static class IncidentRun
{
    /// <returns>The scenario's JSON object, for the assertions particular to an incident.</returns>
    public static async Task<JsonElement> AssertReproducedAndFixedAsync(string scenario, string variant)
    {
        var folder = LabDefaults.TempFolder();
        var json = Path.Combine(folder, "out.json");

        var (exitCode, output) = await LabCli.RunFleetAsync(folder, "run", scenario, "--variant", variant, "--quick", "--json", json, "--report", folder);

        Assert.True(File.Exists(json), $"no JSON report; the CLI said: {output}");
        using var report = JsonDocument.Parse(await File.ReadAllTextAsync(json));
        var root = report.RootElement.Clone();
        Assert.True(root.GetProperty("verdict").GetString() == "reproduced-and-fixed", $"verdict {root.GetProperty("verdict")}: {Checks(root)}");
        Assert.Equal(0, exitCode);
        Assert.Equal(scenario, root.GetProperty("scenario").GetString());
        Assert.Equal(variant, root.GetProperty("variant").GetString());

        var checks = root.GetProperty("checks").EnumerateArray().ToList();
        Assert.Contains(checks, check => check.GetProperty("phase").GetString() == "broken");
        Assert.Contains(checks, check => check.GetProperty("phase").GetString() == "fixed");
        Assert.All(checks, check => Assert.True(check.GetProperty("pass").GetBoolean(), check.ToString()));

        // Every first check is live PromQL: it has a value at least when the incident is on.
        foreach (var first in root.GetProperty("runbook").GetProperty("first_checks").EnumerateArray())
        {
            Assert.True(first.GetProperty("values").GetProperty("broken").ValueKind == JsonValueKind.Number,
                $"runbook check '{first.GetProperty("name")}' matched nothing in the broken phase: {first.GetProperty("promql")}");
        }

        var evidence = root.GetProperty("evidence").EnumerateArray().ToList();
        Assert.NotEmpty(evidence);
        Assert.All(evidence, item =>
        {
            Assert.False(string.IsNullOrWhiteSpace(item.GetProperty("command").GetString()), item.ToString());
            Assert.False(string.IsNullOrWhiteSpace(item.GetProperty("output").GetString()), item.ToString());
        });

        // The key signal has a value in every phase (the results table's column, the chart's line).
        var key = root.GetProperty("key_signal").GetString()!;
        foreach (var phase in new[] { "baseline", "broken", "fixed" })
        {
            var measured = root.GetProperty("phases").GetProperty(phase);
            Assert.True(measured.GetProperty("signals").TryGetProperty(key, out _), $"{phase} has no value of the key signal '{key}'");
        }

        var run = Directory.GetDirectories(folder).Single();
        Assert.True(File.Exists(Path.Combine(run, "report.md")));
        Assert.True(File.Exists(Path.Combine(run, "report.json")));
        Assert.Equal(2, Directory.GetFiles(Path.Combine(run, "charts"), "*.png").Length);
        return root;
    }

    private static string Checks(JsonElement root) =>
        root.TryGetProperty("error", out var error) ? error.ToString() : root.GetProperty("checks").ToString();
}
