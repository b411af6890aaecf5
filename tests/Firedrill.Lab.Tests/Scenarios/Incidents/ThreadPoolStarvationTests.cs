using Firedrill.Lab.Tests.Fleet;
using Firedrill.Lab.Tests.Support;

namespace Firedrill.Lab.Tests.Scenarios.Incidents;

[Collection(nameof(FleetGroup))]
public sealed class ThreadPoolStarvationTests
{
    [Theory]
    [InlineData("sync-over-async", "Firedrill.Shop.Features.Catalog.AvailabilityLookup.BlockingInventoryLookup")]
    [InlineData("blocking-background-work", "Firedrill.Shop.Features.Catalog.StockBadges.BlockingRefresh")]
    public async Task Run_Quick_ReproducesAndFixes(string variant, string blockingFrame)
    {
        var report = await IncidentRun.AssertReproducedAndFixedAsync("thread-pool-starvation", variant);

        // dotnet-stack of the live replica, taken while it was starved, names the shop frame the threads wait under.
        Assert.Contains(report.GetProperty("evidence").EnumerateArray(), item =>
            item.GetProperty("phase").GetString() == "broken"
            && item.GetProperty("command").GetString()!.StartsWith("dotnet dotnet-stack report -p ", StringComparison.Ordinal)
            && item.GetProperty("output").GetString()!.Contains(blockingFrame, StringComparison.Ordinal));
        var phases = report.GetProperty("phases");
        Assert.True(phases.GetProperty("broken").GetProperty("signals").GetProperty("max_pool_threads").GetDouble()
            > phases.GetProperty("baseline").GetProperty("signals").GetProperty("max_pool_threads").GetDouble());
    }
}
