using System.Net;
using System.Text.Json;
using Firedrill.Gateway.Tests.Support;

namespace Firedrill.Gateway.Tests.Health;

/// <summary>Active health checks probe each replica's <c>/health/ready</c> every 0.5 s here (threshold 2).</summary>
public sealed class ActiveHealthTests : IAsyncLifetime
{
    private const int Requests = 10;
    private Backend _a = null!;
    private Backend _b = null!;

    public async Task InitializeAsync()
    {
        _a = await Backend.StartAsync("a");
        _b = await Backend.StartAsync("b");
    }

    [Fact]
    public async Task UnhealthyReplica_LeavesRotationAndReturnsWhenHealthy()
    {
        await using var gateway = new GatewayInstance([_a, _b]);
        using var client = gateway.CreateClient();

        _b.Ready = false;
        await GatewayAssertions.EventuallyAsync(async () => await AllServedByAsync(client, "a"), "the unhealthy replica leaving rotation");
        var servedByB = _b.Requests;
        for (var i = 0; i < Requests; i++)
        {
            Assert.Equal("a", await client.ServedByAsync());
        }

        Assert.Equal(servedByB, _b.Requests);

        _b.Ready = true;
        await GatewayAssertions.EventuallyAsync(async () => await client.ServedByAsync() == "b", "the recovered replica rejoining rotation");
    }

    [Fact]
    public async Task Ready_AllDestinationsUnhealthy_Returns503NamingDestinations()
    {
        await using var gateway = new GatewayInstance([_a, _b]);
        using var client = gateway.CreateClient();
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/health/ready")).StatusCode);

        _a.Ready = false;
        _b.Ready = false;

        await GatewayAssertions.EventuallyAsync(
            async () => (await client.GetAsync("/health/ready")).StatusCode == HttpStatusCode.ServiceUnavailable,
            "gateway readiness failing");
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/health/live")).StatusCode);
        var ready = await client.GetAsync("/health/ready");
        var check = JsonDocument.Parse(await ready.Content.ReadAsStringAsync()).RootElement.GetProperty("checks").GetProperty("destinations");
        Assert.Equal("Unhealthy", check.GetProperty("status").GetString());

        _a.Ready = true;
        await GatewayAssertions.EventuallyAsync(
            async () => (await client.GetAsync("/health/ready")).StatusCode == HttpStatusCode.OK,
            "gateway readiness recovering");
    }

    private static async Task<bool> AllServedByAsync(HttpClient client, string backend)
    {
        for (var i = 0; i < Requests; i++)
        {
            if (await client.ServedByAsync() != backend)
            {
                return false;
            }
        }

        return true;
    }

    public async Task DisposeAsync()
    {
        await _a.DisposeAsync();
        await _b.DisposeAsync();
    }
}
