using Firedrill.Lab.Tests.Fleet;
using Firedrill.Lab.Tests.Support;

namespace Firedrill.Lab.Tests.Scenarios.Incidents;

[Collection(nameof(FleetGroup))]
public sealed class SlowDownstreamCascadeTests
{
    [Theory]
    [InlineData("no-timeout")]
    [InlineData("timeout-too-long")]
    public async Task Run_Quick_ReproducesAndFixes(string variant)
    {
        var report = await IncidentRun.AssertReproducedAndFixedAsync("slow-downstream-cascade", variant);

        Assert.Contains(report.GetProperty("evidence").EnumerateArray(),
            item => item.GetProperty("output").GetString()!.Contains("http_server_active_requests", StringComparison.Ordinal));
    }
}
