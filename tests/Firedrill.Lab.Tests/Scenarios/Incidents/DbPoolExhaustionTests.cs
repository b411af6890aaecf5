using Firedrill.Lab.Tests.Fleet;
using Firedrill.Lab.Tests.Support;

namespace Firedrill.Lab.Tests.Scenarios.Incidents;

[Collection(nameof(FleetGroup))]
public sealed class DbPoolExhaustionTests
{
    [Theory]
    [InlineData("held-across-call", "idle in transaction")]
    [InlineData("leak-on-error", "SELECT sku FROM products")]
    public async Task Run_Quick_ReproducesAndFixes(string variant, string sessionEvidence)
    {
        var report = await IncidentRun.AssertReproducedAndFixedAsync("db-pool-exhaustion", variant);

        var evidence = report.GetProperty("evidence").EnumerateArray()
            .Where(item => item.GetProperty("phase").GetString() == "broken")
            .Select(item => item.GetProperty("output").GetString()!).ToList();
        // pg_stat_activity while broken shows where the connections are: held in a transaction, or
        // leaked after the SKU lookup.
        Assert.Contains(evidence, output => output.Contains(sessionEvidence, StringComparison.Ordinal));
        // A failed response is a 503 problem, and its trace id finds the pool-timeout log line.
        Assert.Contains(evidence, output => output.Contains("\"status\":503", StringComparison.Ordinal));
        Assert.Contains(evidence, output => output.Contains("no pooled database connection within the acquisition timeout", StringComparison.Ordinal));
    }
}
