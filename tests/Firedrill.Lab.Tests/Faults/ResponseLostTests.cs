using Firedrill.Lab.Tests.Support;

namespace Firedrill.Lab.Tests.Faults;

[Collection(IncidentLanes.B)]
public sealed class ResponseLostTests
{
    [Fact]
    public async Task Faults_AnswersLostAfterCommit_RetriesReplayedNotCharged()
    {
        var fault = await FaultRun.AssertHoldsAsync("response-lost");

        // Answers were lost on both hops, and the retries that followed were answered from the key.
        Assert.True(FaultRun.Detail(fault, "answers_cut_client_side") > 0);
        Assert.True(FaultRun.Detail(fault, "answers_cut_gateway_side") > 0);
        Assert.True(FaultRun.Detail(fault, "replayed_answers") > 0);
    }
}
