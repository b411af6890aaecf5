using Firedrill.Lab.Tests.Fleet;
using Firedrill.Lab.Tests.Support;

namespace Firedrill.Lab.Tests.Scenarios.Incidents;

[Collection(IncidentLanes.B)]
public sealed class ShallowHealthChecksTests
{
    [Theory]
    [InlineData("lost-database")]
    [InlineData("lost-redis")]
    [InlineData("deep-liveness")]
    public async Task Run_Quick_ReproducesAndFixes(string variant)
    {
        var report = await IncidentRun.AssertReproducedAndFixedAsync("shallow-health-checks", variant);

        var evidence = report.GetProperty("evidence").EnumerateArray().ToList();
        var broken = string.Join('\n', evidence.Where(item => item.GetProperty("phase").GetString() == "broken")
            .Select(item => item.GetProperty("output").GetString()));
        if (variant == "deep-liveness")
        {
            // The supervisor restarted replicas because their liveness checked the database: it answered
            // 503 naming the postgres check, or, on a slow machine where refused logins queue at the
            // postmaster, outlasted the probe's 1 s.
            Assert.Contains("-> restarting it", broken, StringComparison.Ordinal);
            Assert.True(broken.Contains("postgres", StringComparison.Ordinal) || broken.Contains("no answer within 1 s", StringComparison.Ordinal), broken);
        }
        else
        {
            // Cut for real, and the gateway kept both replicas in rotation while the cut one's readiness failed.
            Assert.Contains(variant == "lost-database" ? "| f " : " off", broken, StringComparison.Ordinal);
            Assert.Contains("2 of 2 destinations", broken, StringComparison.Ordinal);
            Assert.Contains("shop-1 /health/live: {\"status\":\"Healthy\"", broken, StringComparison.Ordinal);
        }
    }
}
