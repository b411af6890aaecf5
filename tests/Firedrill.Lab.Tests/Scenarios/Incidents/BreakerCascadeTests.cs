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
    [InlineData("expensive-fallback")]
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
        if (variant == "expensive-fallback")
        {
            // The pool's own gauges captured while the fallback's queries held it (its checks judge the sampled means).
            Assert.True(Captured(report, "broken", "db_client_connection_npgsql_pending_requests"));
        }
    }

    private static bool Captured(JsonElement report, string phase, string text) =>
        report.GetProperty("evidence").EnumerateArray().Any(item =>
            item.GetProperty("phase").GetString() == phase
            && item.GetProperty("output").GetString()!.Contains(text, StringComparison.Ordinal));
}
