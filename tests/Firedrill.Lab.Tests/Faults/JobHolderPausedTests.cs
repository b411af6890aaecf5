using Firedrill.Lab.Tests.Support;

namespace Firedrill.Lab.Tests.Faults;

[Collection(IncidentLanes.B)]
public sealed class JobHolderPausedTests
{
    [Fact]
    public async Task Faults_JobHolderPausedPastItsLease_FencingTokenRefusesItsWrite()
    {
        var fault = await FaultRun.AssertHoldsAsync("job-holder-paused");

        // Really paused past its lease, really taken over, and its write really refused.
        Assert.True(FaultRun.Detail(fault, "paused_seconds") > 2);
        Assert.True(FaultRun.Detail(fault, "reconciliations_refused") >= 1);
        Assert.Equal(0, FaultRun.Detail(fault, "reconciliations_repeated"));
        Assert.Equal(0, FaultRun.Detail(fault, "windows_lost"));
    }
}
