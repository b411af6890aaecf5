using System.Text.Json;
using Firedrill.Lab.Tests.Fleet;
using Firedrill.Lab.Tests.Support;

namespace Firedrill.Lab.Tests.Scenarios;

/// <summary>The CLI as a user runs it, one incident at a time with --quick, judged by its JSON.</summary>
[Collection(nameof(FleetGroup))]
public sealed class IncidentsEndToEndTests
{
    [Theory]
    [InlineData("duplicate-payments")]
    [InlineData("slow-downstream-cascade")]
    public async Task Run_Quick_ReproducesAndFixesWithEveryCheckPassing(string scenario)
    {
        var folder = LabDefaults.TempFolder();
        var json = Path.Combine(folder, "out.json");

        var (exitCode, output) = await LabCli.RunAsync(folder, "run", scenario, "--quick", "--json", json, "--report", folder);

        Assert.True(File.Exists(json), $"no JSON report; the CLI said: {output}");
        using var report = JsonDocument.Parse(await File.ReadAllTextAsync(json));
        var root = report.RootElement;
        Assert.True(root.GetProperty("verdict").GetString() == "reproduced-and-fixed", $"verdict {root.GetProperty("verdict")}: {root}");
        Assert.Equal(0, exitCode);
        Assert.Equal(scenario, root.GetProperty("scenario").GetString());
        foreach (var phase in new[] { "baseline", "broken", "fixed" })
        {
            Assert.True(root.GetProperty("phases").GetProperty(phase).GetProperty("requests").GetInt64() > 0, $"{phase} sent no request");
        }

        var checks = root.GetProperty("checks").EnumerateArray().ToList();
        Assert.Contains(checks, check => check.GetProperty("phase").GetString() == "broken");
        Assert.Contains(checks, check => check.GetProperty("phase").GetString() == "fixed");
        Assert.All(checks, check => Assert.True(check.GetProperty("pass").GetBoolean(), check.ToString()));

        var run = Directory.GetDirectories(folder).Single();
        Assert.True(File.Exists(Path.Combine(run, "report.md")));
        Assert.True(File.Exists(Path.Combine(run, "report.json")));
        Assert.NotEmpty(Directory.GetFiles(Path.Combine(run, "charts"), "*.png"));
    }

    [Theory]
    [InlineData("run", "no-such-incident")]
    [InlineData("run", "memory-growth")]
    [InlineData("run")]
    [InlineData("up", "--replicas", "0")]
    [InlineData("trace", "not-a-trace-id")]
    public async Task Cli_BadInput_ExitsNonZeroWithOneClearLine(params string[] args)
    {
        var (exitCode, output) = await LabCli.RunAsync(LabDefaults.TempFolder(), args);

        Assert.NotEqual(0, exitCode);
        Assert.DoesNotContain("   at ", output, StringComparison.Ordinal);
        Assert.NotEmpty(output.Trim());
    }
}
