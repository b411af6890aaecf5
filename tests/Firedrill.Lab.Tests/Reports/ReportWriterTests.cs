using System.Text.Json;
using Firedrill.Lab.Reports;
using Firedrill.Lab.Scenarios;

namespace Firedrill.Lab.Tests.Reports;

public sealed class ReportWriterTests : IDisposable
{
    private static readonly byte[] PngMagic = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    private readonly string _folder = Path.Combine(Path.GetTempPath(), "firedrill-report-" + Guid.NewGuid().ToString("N"));

    [Fact]
    public async Task WriteAsync_TwoScenarios_WritesMarkdownJsonAndTheReproducedScenariosCharts()
    {
        var written = await WriteSamplesAsync();

        string[] expected =
        [
            Path.Combine(_folder, "charts", "pool-exhaustion-latency.png"),
            Path.Combine(_folder, "charts", "pool-exhaustion-signal.png"),
            Path.Combine(_folder, "report.md"),
            Path.Combine(_folder, "report.json"),
        ];
        Assert.Equal(expected.Order(), written.Order());
        Assert.All(written, path => Assert.True(File.Exists(path), path));
    }

    [Theory]
    [InlineData("pool-exhaustion-latency.png")]
    [InlineData("pool-exhaustion-signal.png")]
    public async Task WriteAsync_ScenarioWithTimeline_ChartIsANonTrivialPng(string chart)
    {
        await WriteSamplesAsync();

        var bytes = await File.ReadAllBytesAsync(Path.Combine(_folder, "charts", chart));

        Assert.Equal(PngMagic, bytes.Take(PngMagic.Length));
        // 900x450 with lines and text: far above an empty image's few hundred bytes.
        Assert.True(bytes.Length > 10_000, $"{chart} is only {bytes.Length} bytes");
    }

    [Fact]
    public async Task WriteAsync_ScenarioWithoutTimeline_WritesNoChartsAndLinksNone()
    {
        await WriteSamplesAsync();

        Assert.Empty(Directory.GetFiles(Path.Combine(_folder, "charts"), "kafka-lag*"));
        var markdown = await File.ReadAllTextAsync(Path.Combine(_folder, "report.md"));
        Assert.DoesNotContain("kafka-lag-", markdown, StringComparison.Ordinal);
        // Every image the report links exists.
        foreach (var link in markdown.Split('\n').Where(line => line.StartsWith("![", StringComparison.Ordinal)))
        {
            var target = link[(link.LastIndexOf('(') + 1)..link.LastIndexOf(')')];
            Assert.True(File.Exists(Path.Combine(_folder, target)), $"broken image link {target}");
        }
    }

    [Fact]
    public async Task WriteAsync_NoKeySignal_WritesOnlyTheLatencyChart()
    {
        var report = SampleReports.Reproduced with { KeySignal = null };

        var written = await ReportWriter.WriteAsync(_folder, SampleReports.Run, [report], CancellationToken.None);

        Assert.Single(written, path => path.EndsWith(".png", StringComparison.Ordinal));
        Assert.DoesNotContain("-signal.png", await File.ReadAllTextAsync(Path.Combine(_folder, "report.md")), StringComparison.Ordinal);
    }

    [Fact]
    public async Task WriteAsync_ReportJson_RoundTripsToTheSameDocument()
    {
        await WriteSamplesAsync();
        var json = await File.ReadAllTextAsync(Path.Combine(_folder, "report.json"));

        var reports = JsonSerializer.Deserialize<List<ScenarioReport>>(json, ReportWriter.JsonOptions)!;

        Assert.Equal(json.TrimEnd('\n'), ReportWriter.ToJson(reports));
        Assert.Equal(SampleReports.Reproduced.Timeline.Count, reports[0].Timeline.Count);
        Assert.Equal(SampleReports.Reproduced.Phases[Phases.Broken].P99Ms, reports[0].Phases[Phases.Broken].P99Ms);
        Assert.Null(reports[1].KeySignal);
    }

    [Fact]
    public async Task WriteAsync_Cancelled_Throws()
    {
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(
            () => ReportWriter.WriteAsync(_folder, SampleReports.Run, [SampleReports.Reproduced], cancelled.Token));
    }

    [Fact]
    public async Task WriteAsync_SameScenarioTwice_KeepsBothCharts()
    {
        var written = await ReportWriter.WriteAsync(_folder, SampleReports.Run, [SampleReports.Reproduced, SampleReports.Reproduced], CancellationToken.None);

        Assert.Contains(Path.Combine(_folder, "charts", "pool-exhaustion-2-latency.png"), written);
        Assert.Contains("charts/pool-exhaustion-2-latency.png", await File.ReadAllTextAsync(Path.Combine(_folder, "report.md")), StringComparison.Ordinal);
    }

    public void Dispose()
    {
        if (Directory.Exists(_folder))
        {
            Directory.Delete(_folder, recursive: true);
        }
    }

    private Task<IReadOnlyList<string>> WriteSamplesAsync() =>
        ReportWriter.WriteAsync(_folder, SampleReports.Run, [SampleReports.Reproduced, SampleReports.Errored], CancellationToken.None);
}
