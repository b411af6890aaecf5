using Firedrill.Lab.Tests.Support;

namespace Firedrill.Lab.Tests.Faults;

[Collection(IncidentLanes.A)]
public sealed class RedisDownTests
{
    [Fact]
    public async Task Faults_RedisKilledThenBack_CatalogFromPostgresPaymentsUnaffected()
    {
        var fault = await FaultRun.AssertHoldsAsync("redis-down");

        // Redis was really gone under load (reads answered meanwhile, every replica said Degraded),
        // and really back (the replicas wrote keys to the new, empty server).
        Assert.True(FaultRun.Detail(fault, "catalog_reads_while_down") > 0);
        Assert.Equal(2, FaultRun.Detail(fault, "replicas_degraded_while_down"));
        Assert.True(FaultRun.Detail(fault, "redis_keys_after") > 0);
        Assert.Equal(FaultRun.Detail(fault, "payers"), FaultRun.Detail(fault, "acknowledged"));
    }
}
