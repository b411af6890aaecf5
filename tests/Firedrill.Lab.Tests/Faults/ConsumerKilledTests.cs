using Firedrill.Lab.Tests.Support;

namespace Firedrill.Lab.Tests.Faults;

[Collection(IncidentLanes.B)]
public sealed class ConsumerKilledTests
{
    [Fact]
    public async Task Faults_ConsumerKilledBeforeOffsetCommit_EveryEventAppliedOnce()
    {
        var fault = await FaultRun.AssertHoldsAsync("consumer-killed");

        // Events applied but not committed at the kill were delivered again, and the ledger has each once.
        Assert.True(FaultRun.Detail(fault, "applied_not_committed_at_kill") > 0);
        Assert.Equal(FaultRun.Detail(fault, "distinct_events"), FaultRun.Detail(fault, "ledger_rows"));
    }
}
