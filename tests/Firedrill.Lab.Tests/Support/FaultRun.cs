using System.Text.Json;

namespace Firedrill.Lab.Tests.Support;

/// <summary>
/// One fault run as a user runs it — <c>firedrill faults ID --quick --json F</c>, a real process
/// with its own fleet — and judged by issue 15's JSON: the fault holds, every check passes, the
/// audit found nothing lost or duplicated, and the report's files are written.
/// </summary>
internal static class FaultRun
{
    /// <returns>The fault's JSON object, for the assertions particular to it.</returns>
    public static async Task<JsonElement> AssertHoldsAsync(string fault)
    {
        var folder = LabDefaults.TempFolder();
        var json = Path.Combine(folder, "out.json");

        var (exitCode, output) = await LabCli.RunFleetAsync(folder, "faults", fault, "--quick", "--json", json, "--report", folder);

        Assert.True(File.Exists(json), $"no JSON report; the CLI said: {output}");
        using var report = JsonDocument.Parse(await File.ReadAllTextAsync(json));
        Assert.Equal(JsonValueKind.Array, report.RootElement.ValueKind);
        var root = Assert.Single(report.RootElement.EnumerateArray()).Clone();
        Assert.True(root.GetProperty("passed").GetBoolean(), $"{fault} does not hold: {Failures(root)}");
        Assert.Equal(0, exitCode);
        Assert.Equal(fault, root.GetProperty("fault").GetString());

        foreach (var field in new[] { "requests", "error_rate", "audited", "lost", "duplicated" })
        {
            Assert.Equal(JsonValueKind.Number, root.GetProperty(field).ValueKind);
        }

        Assert.True(root.GetProperty("requests").GetInt64() > 0, "no load ran");
        Assert.True(root.GetProperty("audited").GetInt64() > 0, "the audit compared nothing");
        Assert.Equal(0, root.GetProperty("lost").GetInt64());
        Assert.Equal(0, root.GetProperty("duplicated").GetInt64());
        Assert.True(root.TryGetProperty("recovery_seconds", out _));
        Assert.Equal(JsonValueKind.Object, root.GetProperty("details").ValueKind);
        Assert.All(root.GetProperty("checks").EnumerateArray(), check => Assert.True(check.GetProperty("pass").GetBoolean(), check.ToString()));
        Assert.All(root.GetProperty("evidence").EnumerateArray(), item =>
        {
            Assert.False(string.IsNullOrWhiteSpace(item.GetProperty("command").GetString()), item.ToString());
            Assert.False(string.IsNullOrWhiteSpace(item.GetProperty("output").GetString()), item.ToString());
        });

        var run = Directory.GetDirectories(folder).Single();
        Assert.True(File.Exists(Path.Combine(run, "report.md")));
        Assert.True(File.Exists(Path.Combine(run, "report.json")));
        Assert.Equal(2, Directory.GetFiles(Path.Combine(run, "charts"), "*.png").Length);
        return root;
    }

    public static double Detail(JsonElement fault, string name) => fault.GetProperty("details").GetProperty(name).GetDouble();

    private static string Failures(JsonElement root) =>
        root.TryGetProperty("error", out var error)
            ? error.ToString()
            : string.Join("; ", root.GetProperty("checks").EnumerateArray().Where(check => !check.GetProperty("pass").GetBoolean()).Select(check => check.ToString()));
}
