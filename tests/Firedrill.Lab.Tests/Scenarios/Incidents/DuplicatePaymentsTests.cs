using Firedrill.Lab.Tests.Fleet;
using Firedrill.Lab.Tests.Support;

namespace Firedrill.Lab.Tests.Scenarios.Incidents;

[Collection(IncidentLanes.A)]
public sealed class DuplicatePaymentsTests
{
    [Theory]
    [InlineData("late-answer")]
    [InlineData("gateway-504")]
    public async Task Run_Quick_ReproducesAndFixes(string variant)
    {
        var report = await IncidentRun.AssertReproducedAndFixedAsync("duplicate-payments", variant);

        var broken = report.GetProperty("phases").GetProperty("broken").GetProperty("signals");
        Assert.True(broken.GetProperty("duplicate_charges").GetDouble() > 0);
    }
}
