using Firedrill.Lab.Tests.Fleet;
using Firedrill.Lab.Tests.Support;

namespace Firedrill.Lab.Tests.Scenarios.Incidents;

[Collection(nameof(FleetGroup))]
public sealed class SlowInProductionTests(OrdersTemplateFixture template) : IClassFixture<OrdersTemplateFixture>
{
    // small-pool does not meet its verdict on a 2-core machine yet (production p95 broken ÷ fixed
    // 1.2-4.1, bar 5): with the database on loopback and two cores, the CPU saturates soon after
    // the pool does, so the fix's bigger pool cannot buy the latency back. See
    // docs/incidents/slow-in-production.md. It runs with --variant small-pool; the suite skips it.
    [Fact(Skip = "small-pool does not reproduce at 5x on a 2-core machine yet; see docs/incidents/slow-in-production.md")]
    public Task Run_QuickSmallPool_ReproducesAndFixes() => Run_Quick_ReproducesAndFixes("small-pool");

    [Theory]
    [InlineData("missing-index")]
    [InlineData("n-plus-one")]
    public async Task Run_Quick_ReproducesAndFixes(string variant)
    {
        Assert.StartsWith("firedrill_tpl_orders_", template.Name, StringComparison.Ordinal);

        var report = await IncidentRun.AssertReproducedAndFixedAsync("slow-in-production", variant);

        var evidence = report.GetProperty("evidence").EnumerateArray().ToList();
        Assert.Contains(evidence, item => item.GetProperty("name").GetString()!.StartsWith("Where the history's server time goes", StringComparison.Ordinal));
        if (variant == "missing-index")
        {
            // The plan before and after: a scan that filters away most of the table, then the new index.
            Assert.Contains(evidence, item => item.GetProperty("phase").GetString() == "broken"
                && item.GetProperty("output").GetString()!.Contains("Rows Removed by Filter", StringComparison.Ordinal));
            Assert.Contains(evidence, item => item.GetProperty("phase").GetString() == "fixed"
                && item.GetProperty("output").GetString()!.Contains("orders_customer_id_id", StringComparison.Ordinal));
        }
    }
}
