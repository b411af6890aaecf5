using Firedrill.Lab.Tests.Support;

namespace Firedrill.Lab.Tests.Faults;

[Collection(IncidentLanes.B)]
public sealed class ControlPlaneTests
{
    [Fact]
    public async Task Faults_ControlPlaneFromWhereItMustRefuse_NothingAdmitted()
    {
        var fault = await FaultRun.AssertHoldsAsync("control-plane");

        // Through the gateway with the right token, and from a non-loopback address: all refused.
        Assert.True(FaultRun.Detail(fault, "through_gateway_with_token") > 0);
        Assert.True(FaultRun.Detail(fault, "from_non_loopback") > 0);
        Assert.Equal(System.Text.Json.JsonValueKind.Null, fault.GetProperty("recovery_seconds").ValueKind);
    }
}
