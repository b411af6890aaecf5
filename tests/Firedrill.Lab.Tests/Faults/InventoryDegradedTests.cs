using Firedrill.Lab.Tests.Support;

namespace Firedrill.Lab.Tests.Faults;

[Collection(IncidentLanes.B)]
public sealed class InventoryDegradedTests
{
    [Fact]
    public async Task Faults_InventorySlowThenDown_NotAmplifiedAndRecovers()
    {
        var fault = await FaultRun.AssertHoldsAsync("inventory-degraded");

        // The fault hurt (answers degraded to "unknown", the breaker opened) without making inventory's load worse.
        Assert.True(FaultRun.Detail(fault, "answered_unknown") > 0);
        Assert.True(FaultRun.Detail(fault, "breaker_openings") > 0);
        Assert.True(FaultRun.Detail(fault, "amplification") <= 1.2);
    }
}
