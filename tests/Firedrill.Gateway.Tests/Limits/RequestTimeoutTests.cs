using System.Net;
using Firedrill.Gateway.Tests.Support;

namespace Firedrill.Gateway.Tests.Limits;

/// <summary>The backend's <c>/slow</c> takes <see cref="Backend.SlowDelay"/>; the gateway must give up first.</summary>
public sealed class RequestTimeoutTests : IAsyncLifetime
{
    private Backend _backend = null!;

    public async Task InitializeAsync() => _backend = await Backend.StartAsync("a");

    [Fact]
    public async Task Get_ReplicaSlowerThanRequestTimeout_Returns504Problem()
    {
        await using var gateway = new GatewayInstance([_backend], new Dictionary<string, string?>
        {
            ["Gateway:RequestTimeout"] = "00:00:01",
        });
        using var client = gateway.CreateClient();

        await (await client.GetAsync("/api/slow")).AssertProblemAsync(HttpStatusCode.GatewayTimeout);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/products/1")).StatusCode);
    }

    [Fact]
    public async Task PutRequestTimeout_AtRunTime_TakesEffectWithoutRestart()
    {
        await using var gateway = new GatewayInstance([_backend]);
        using var client = gateway.CreateClient();

        var put = await gateway.PutLabConfigAsync(client, """{"Gateway:RequestTimeout": "00:00:01"}""");

        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        await (await client.GetAsync("/api/slow")).AssertProblemAsync(HttpStatusCode.GatewayTimeout);
    }

    public async Task DisposeAsync() => await _backend.DisposeAsync();
}
