using Firedrill.Lab.Tests.Support;

namespace Firedrill.Lab.Tests.Faults;

[Collection(IncidentLanes.A)]
public sealed class RelayKilledTests
{
    [Fact]
    public async Task Faults_RelaysKilledWithUnpublishedPayments_EveryPaymentReachesTheTopic()
    {
        var fault = await FaultRun.AssertHoldsAsync("relay-killed");

        // The kill left committed payments in the outbox, and the topic (read by kcat) has them all.
        Assert.True(FaultRun.Detail(fault, "unpublished_at_kill") > 0);
        Assert.True(FaultRun.Detail(fault, "events_on_topic") >= FaultRun.Detail(fault, "payments_committed"));
    }
}
