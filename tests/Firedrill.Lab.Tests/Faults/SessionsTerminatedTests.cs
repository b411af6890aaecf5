using Firedrill.Lab.Tests.Support;

namespace Firedrill.Lab.Tests.Faults;

[Collection(IncidentLanes.A)]
public sealed class SessionsTerminatedTests
{
    [Fact]
    public async Task Faults_PostgresSessionsTerminated_ShopReconnectsNothingLost()
    {
        var fault = await FaultRun.AssertHoldsAsync("sessions-terminated");

        // Sessions really were cut, the same replicas reconnected, and every payer got through.
        Assert.True(FaultRun.Detail(fault, "sessions_terminated") > 0);
        Assert.True(FaultRun.Detail(fault, "sessions_after") > 0);
        Assert.Equal(FaultRun.Detail(fault, "payers"), FaultRun.Detail(fault, "acknowledged"));
    }
}
