using Firedrill.Lab.Tests.Fleet;
using Firedrill.Lab.Tests.Support;

namespace Firedrill.Lab.Tests.Scenarios.Incidents;

[Collection(nameof(FleetGroup))]
public sealed class AutoscalingNoReliefTests
{
    [Theory]
    [InlineData("hot-row")]
    [InlineData("cold-replicas")]
    public async Task Run_Quick_ReproducesAndFixes(string variant)
    {
        var report = await IncidentRun.AssertReproducedAndFixedAsync("autoscaling-no-relief", variant);

        var broken = string.Join('\n', report.GetProperty("evidence").EnumerateArray()
            .Where(item => item.GetProperty("phase").GetString() == "broken")
            .Select(item => item.GetProperty("output").GetString()));
        // The autoscaler really added replicas, on CPU.
        Assert.Contains("added shop-2", broken, StringComparison.Ordinal);
        if (variant == "hot-row")
        {
            // Sessions waited on the hot row's lock, each blocked by another.
            Assert.Contains("tuple", broken, StringComparison.Ordinal);
        }
        else
        {
            // An added replica said ready while its warm-up had not finished, and counted users it served cold.
            Assert.Contains("ready without waiting for the warm-up", broken, StringComparison.Ordinal);
            Assert.Contains("firedrill_warmup_requests_served_cold_total", broken, StringComparison.Ordinal);
            var fixedPhase = report.GetProperty("phases").GetProperty("fixed").GetProperty("signals");
            Assert.Equal(0, fixedPhase.GetProperty("requests_served_cold").GetDouble());
        }
    }
}
