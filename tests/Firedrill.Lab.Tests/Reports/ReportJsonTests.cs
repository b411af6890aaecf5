using System.Text.Json;
using Firedrill.Lab.Reports;
using Firedrill.Lab.Scenarios;

namespace Firedrill.Lab.Tests.Reports;

public sealed class ReportJsonTests
{
    [Fact]
    public void ToJson_OneScenario_IsTheContractsObject()
    {
        using var json = JsonDocument.Parse(ReportWriter.ToJson([SampleReports.Reproduced]));
        var root = json.RootElement;

        Assert.Equal(JsonValueKind.Object, root.ValueKind);
        // DESIGN.md's contract, plus the model's extra fields; "error" is absent when there is none.
        Assert.Equal(["chart_signals", "checks", "evidence", "key_signal", "phases", "runbook", "scenario", "timeline", "title", "variant", "verdict"], Keys(root));
        Assert.Equal("held-across-call", root.GetProperty("variant").GetString());
        var evidence = root.GetProperty("evidence")[0];
        Assert.Equal(["command", "name", "output", "phase"], Keys(evidence));
        var values = root.GetProperty("runbook").GetProperty("first_checks")[0].GetProperty("values");
        Assert.Equal(38, values.GetProperty(Phases.Broken).GetDouble());
        Assert.Equal(JsonValueKind.Null, values.GetProperty(Phases.Fixed).ValueKind);
        Assert.Equal("pool-exhaustion", root.GetProperty("scenario").GetString());
        Assert.Equal(Verdicts.ReproducedAndFixed, root.GetProperty("verdict").GetString());
        Assert.Equal([Phases.Baseline, Phases.Broken, Phases.Fixed], root.GetProperty("phases").EnumerateObject().Select(phase => phase.Name));
        foreach (var phase in root.GetProperty("phases").EnumerateObject())
        {
            Assert.Equal(["error_rate", "outcomes", "p50_ms", "p95_ms", "p99_ms", "requests", "rps", "seconds", "signals"], Keys(phase.Value));
        }

        var broken = root.GetProperty("phases").GetProperty(Phases.Broken);
        Assert.Equal(2400, broken.GetProperty("p99_ms").GetDouble());
        Assert.Equal(0.12, broken.GetProperty("error_rate").GetDouble());
        Assert.Equal(38, broken.GetProperty("signals").GetProperty(SampleReports.PoolSignal).GetDouble());

        var check = root.GetProperty("checks")[0];
        Assert.Equal(["expect", "name", "pass", "phase", "value"], Keys(check));
        Assert.Equal("> 5", check.GetProperty("expect").GetString());
        Assert.Equal(38, check.GetProperty("value").GetDouble());
        Assert.True(check.GetProperty("pass").GetBoolean());
        Assert.Equal(["first_checks", "fix", "root_cause", "symptom"], Keys(root.GetProperty("runbook")));
        Assert.Equal(["error_rate", "p50_ms", "p99_ms", "phase", "rps", "second", "signals"], Keys(root.GetProperty("timeline")[0]));
    }

    [Fact]
    public void ToJson_TwoScenarios_IsAnArrayOfTheirObjects()
    {
        using var json = JsonDocument.Parse(ReportWriter.ToJson([SampleReports.Reproduced, SampleReports.Errored]));

        Assert.Equal(JsonValueKind.Array, json.RootElement.ValueKind);
        Assert.Equal(["pool-exhaustion", "kafka-lag"], json.RootElement.EnumerateArray().Select(report => report.GetProperty("scenario").GetString()));
        var errored = json.RootElement[1];
        Assert.Equal(Verdicts.Error, errored.GetProperty("verdict").GetString());
        Assert.StartsWith("the fleet did not start", errored.GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.False(errored.TryGetProperty("key_signal", out _));
        Assert.Equal(0, errored.GetProperty("timeline").GetArrayLength());
    }

    [Fact]
    public void ToJson_OneScenario_RoundTrips()
    {
        var json = ReportWriter.ToJson([SampleReports.Reproduced]);

        var report = JsonSerializer.Deserialize<ScenarioReport>(json, ReportWriter.JsonOptions)!;

        Assert.Equal(json, ReportWriter.ToJson([report]));
    }

    [Fact]
    public void ToJson_NaNSignal_WritesTheReportAnyway()
    {
        var phase = SampleReports.Reproduced.Phases[Phases.Fixed] with { Signals = new Dictionary<string, double> { ["lag"] = double.NaN } };
        var report = SampleReports.Errored with { Phases = new Dictionary<string, PhaseResult> { [Phases.Fixed] = phase } };

        using var json = JsonDocument.Parse(ReportWriter.ToJson([report]));

        Assert.Equal("NaN", json.RootElement.GetProperty("phases").GetProperty(Phases.Fixed).GetProperty("signals").GetProperty("lag").GetString());
    }

    private static string[] Keys(JsonElement element) =>
        [.. element.EnumerateObject().Select(property => property.Name).Order(StringComparer.Ordinal)];
}
