using Firedrill.Lab.Tests.Fleet;
using Firedrill.Lab.Tests.Support;

namespace Firedrill.Lab.Tests.Faults;

// Judged on latency (the admitted p99 under a surge): alone, after the parallel lanes.
[Collection(nameof(FleetGroup))]
public sealed class OverloadTests
{
    [Fact]
    public async Task Faults_TwiceCapacity_ExcessShedAdmittedServedInTime()
    {
        var fault = await FaultRun.AssertHoldsAsync("overload");

        // The surge was real (some shed with Retry-After) and the admitted were served within the bound.
        Assert.True(FaultRun.Detail(fault, "shed") > 0);
        Assert.True(FaultRun.Detail(fault, "admitted") > 0);
        Assert.True(FaultRun.Detail(fault, "admitted_p99_ms") <= 2000);
    }
}
