using Firedrill.Lab.Tests.Fleet;
using Firedrill.Lab.Tests.Support;

namespace Firedrill.Lab.Tests.Scenarios.Incidents;

[Collection(IncidentLanes.A)]
public sealed class MemoryGrowthTests
{
    [Theory]
    [InlineData("unbounded-cache", "Firedrill.Shop.Features.Catalog.ProductPage")]
    [InlineData("undisposed-subscription", "Firedrill.Shop.Features.Catalog.SearchResultsView")]
    public async Task Run_Quick_ReproducesAndFixes(string variant, string leakingType)
    {
        var report = await IncidentRun.AssertReproducedAndFixedAsync("memory-growth", variant);

        // The heap-by-type evidence of the broken phase names the leaking type, from two real snapshots.
        Assert.Contains(report.GetProperty("evidence").EnumerateArray(), item =>
            item.GetProperty("phase").GetString() == "broken"
            && item.GetProperty("command").GetString()!.StartsWith("dotnet dotnet-gcdump report -p ", StringComparison.Ordinal)
            && item.GetProperty("output").GetString()!.Contains(leakingType, StringComparison.Ordinal));
        var broken = report.GetProperty("phases").GetProperty("broken").GetProperty("signals");
        var fixedPhase = report.GetProperty("phases").GetProperty("fixed").GetProperty("signals");
        Assert.True(broken.GetProperty("heap_mb_per_10k_requests").GetDouble() > 5 * Math.Max(fixedPhase.GetProperty("heap_mb_per_10k_requests").GetDouble(), 0.5));
    }
}
