using Firedrill.Lab.Tests.Fleet;
using Firedrill.Lab.Tests.Support;

namespace Firedrill.Lab.Tests.Scenarios.Incidents;

[Collection(IncidentLanes.B)]
public sealed class DuplicateScheduledJobTests
{
    [Theory]
    [InlineData("no-lock")]
    [InlineData("lock-released-early")]
    [InlineData("lease-never-expires")]
    public async Task Run_Quick_ReproducesAndFixes(string variant)
    {
        var report = await IncidentRun.AssertReproducedAndFixedAsync("duplicate-scheduled-job", variant);

        var fix = report.GetProperty("phases").GetProperty("fixed").GetProperty("signals");
        Assert.Equal(1, fix.GetProperty("holders_killed").GetDouble());
        Assert.Equal(1, fix.GetProperty("runs_per_window").GetDouble());
        var evidence = report.GetProperty("evidence").EnumerateArray().ToList();
        Assert.Contains(evidence, item => item.GetProperty("phase").GetString() == "broken"
            && item.GetProperty("command").GetString()!.Contains("job_runs", StringComparison.Ordinal)
            && item.GetProperty("output").GetString()!.Contains("runs", StringComparison.Ordinal));
        Assert.Contains(evidence, item => item.GetProperty("command").GetString()!.StartsWith("kill -9 ", StringComparison.Ordinal));
    }
}
