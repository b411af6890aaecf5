using Firedrill.Lab.Tests.Support;

namespace Firedrill.Lab.Tests.Faults;

[Collection(IncidentLanes.A)]
public sealed class HostileInputTests
{
    [Fact]
    public async Task Faults_HostileInputOnEveryOperation_Every4xxNoCrash()
    {
        var fault = await FaultRun.AssertHoldsAsync("hostile-input");

        // Every operation of the document was tried, most answers are problem documents, and the slow senders were cut.
        Assert.True(FaultRun.Detail(fault, "operations") >= 10);
        Assert.True(FaultRun.Detail(fault, "answers_problem_json") > FaultRun.Detail(fault, "inputs") * 0.9);
        Assert.True(FaultRun.Detail(fault, "slow_senders") > 0);
        Assert.True(FaultRun.Detail(fault, "slow_sender_longest_hold_s") < 20);
    }
}
