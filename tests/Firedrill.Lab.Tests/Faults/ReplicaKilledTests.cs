using Firedrill.Lab.Tests.Support;

namespace Firedrill.Lab.Tests.Faults;

[Collection(IncidentLanes.A)]
public sealed class ReplicaKilledTests
{
    [Fact]
    public async Task Faults_ReplicaKilledMidLoad_NoPaymentLostOrChargedTwice()
    {
        var fault = await FaultRun.AssertHoldsAsync("replica-killed");

        // The kill hurt (attempts failed) and the payers' retries got through, every one.
        Assert.True(FaultRun.Detail(fault, "failed_attempts") > 0);
        Assert.True(FaultRun.Detail(fault, "payments_retried") > 0);
        Assert.Equal(FaultRun.Detail(fault, "payers"), FaultRun.Detail(fault, "acknowledged"));
        Assert.Equal(0, fault.GetProperty("error_rate_after").GetDouble());
    }
}
