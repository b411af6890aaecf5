using Firedrill.Lab.Tests.Support;

namespace Firedrill.Lab.Tests.Faults;

[Collection(IncidentLanes.A)]
public sealed class PoisonMessageTests
{
    [Fact]
    public async Task Faults_PoisonOnEveryPartition_DeadLetteredAndThePartitionsKeepFlowing()
    {
        var fault = await FaultRun.AssertHoldsAsync("poison-message");

        // Every poison on the dead-letter topic, and real events behind it applied once each.
        Assert.True(FaultRun.Detail(fault, "dead_letters") >= FaultRun.Detail(fault, "poison_written"));
        Assert.True(FaultRun.Detail(fault, "events_behind_poison") > 0);
        Assert.Equal(FaultRun.Detail(fault, "events_on_topic"), FaultRun.Detail(fault, "ledger_rows"));
    }
}
