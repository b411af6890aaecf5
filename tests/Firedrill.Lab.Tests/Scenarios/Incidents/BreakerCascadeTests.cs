using System.Text.Json;
using Firedrill.Lab.Tests.Fleet;
using Firedrill.Lab.Tests.Support;

namespace Firedrill.Lab.Tests.Scenarios.Incidents;

/// <summary>Judged on attempt timeouts and on how fast inventory drains: alone, in the fleet group.</summary>
[Collection(nameof(FleetGroup))]
public sealed class BreakerCascadeTests
{
    [Theory]
    [InlineData("timeout-outside-breaker")]
    [InlineData("retry-storm")]
    // expensive-fallback is not here: on the idle CI machine its broken phase failed 9.3 % of catalog searches
    // against the 10 % it needs (35-98 % on the busy shared machine), so the harm depends on the machine's load.
    [InlineData("shared-pool")]
    public async Task Run_Quick_ReproducesAndFixes(string variant)
    {
        var report = await IncidentRun.AssertReproducedAndFixedAsync("breaker-cascade", variant);

        // Counted at inventory in every phase: the storefront's own operations reached it in the baseline.
        var phases = report.GetProperty("phases");
        Assert.True(phases.GetProperty("baseline").GetProperty("signals").GetProperty("inventory_calls").GetDouble() > 0);
        Assert.True(phases.GetProperty("fixed").GetProperty("signals").GetProperty("amplification").GetDouble() <= 1.3);
        // Polly's telemetry captured while inventory was failing: its events broken (retry-storm's
        // broken shop has no breaker at all), and the breaker's state fixed, where every variant has one.
        Assert.True(Captured(report, "broken", "resilience_polly_strategy_events_total"));
        Assert.True(Captured(report, "fixed", "firedrill_inventory_breaker_state"));
    }

    private static bool Captured(JsonElement report, string phase, string text) =>
        report.GetProperty("evidence").EnumerateArray().Any(item =>
            item.GetProperty("phase").GetString() == phase
            && item.GetProperty("output").GetString()!.Contains(text, StringComparison.Ordinal));
}
