using Firedrill.Lab.Tests.Fleet;
using Firedrill.Lab.Tests.Support;

namespace Firedrill.Lab.Tests.Scenarios.Incidents;

[Collection(nameof(FleetGroup))]
public sealed class BreakerCascadeTests
{
    [Theory]
    [InlineData("timeout-outside-breaker")]
    [InlineData("retry-storm")]
    [InlineData("expensive-fallback")]
    [InlineData("shared-pool")]
    public async Task Run_Quick_ReproducesAndFixes(string variant)
    {
        var report = await IncidentRun.AssertReproducedAndFixedAsync("breaker-cascade", variant);

        var phases = report.GetProperty("phases");
        // Counted at inventory, in every phase; the breaker's state from Polly's telemetry, in the evidence.
        Assert.True(phases.GetProperty("broken").GetProperty("signals").GetProperty("inventory_calls").GetDouble() >= 0);
        Assert.True(phases.GetProperty("fixed").GetProperty("signals").GetProperty("amplification").GetDouble() <= 1.3);
        Assert.Contains(report.GetProperty("evidence").EnumerateArray(),
            item => item.GetProperty("output").GetString()!.Contains("resilience_polly_strategy_events_total", StringComparison.Ordinal));
    }
}
