using Firedrill.Lab.Tests.Fleet;
using Firedrill.Lab.Tests.Support;

namespace Firedrill.Lab.Tests.Scenarios.Incidents;

[Collection(nameof(FleetGroup))]
public sealed class SlowInProductionTests(OrdersTemplateFixture template) : IClassFixture<OrdersTemplateFixture>
{
    [Theory]
    [InlineData("missing-index")]
    [InlineData("n-plus-one")]
    [InlineData("small-pool")]
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

        if (variant == "small-pool")
        {
            // The fix's size comes from this run's measurements, shown with its arithmetic.
            Assert.Contains(evidence, item => item.GetProperty("name").GetString()!.StartsWith("The pool sized from measured concurrency", StringComparison.Ordinal)
                && item.GetProperty("output").GetString()!.Contains("Db:MaxPoolSize = ceil(", StringComparison.Ordinal));
        }
    }
}
