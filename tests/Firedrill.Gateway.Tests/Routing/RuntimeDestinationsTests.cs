using System.Net;
using Firedrill.Gateway.Tests.Support;

namespace Firedrill.Gateway.Tests.Routing;

/// <summary>The lab scales replicas by writing YARP destinations through the gateway's <c>/_lab/config</c>.</summary>
public sealed class RuntimeDestinationsTests : IAsyncLifetime
{
    private const int Requests = 10;
    private Backend _a = null!;
    private Backend _b = null!;
    private GatewayInstance _gateway = null!;
    private HttpClient _client = null!;

    public async Task InitializeAsync()
    {
        _a = await Backend.StartAsync("a");
        _b = await Backend.StartAsync("b");
        _gateway = new GatewayInstance([_a]);
        _client = _gateway.CreateClient();
    }

    [Fact]
    public async Task PutDestination_NewAddress_SendsAllTrafficToTheNewReplica()
    {
        Assert.Equal("a", await _client.ServedByAsync());

        var put = await _gateway.PutLabConfigAsync(_client, $$"""{"{{GatewayInstance.DestinationsKey}}:r1:Address": "{{_b.Address}}"}""");

        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        await GatewayAssertions.EventuallyAsync(async () => await _client.ServedByAsync() == "b", "routing to the new address");
        var servedByA = _a.Requests;
        for (var i = 0; i < Requests; i++)
        {
            Assert.Equal("b", await _client.ServedByAsync());
        }

        Assert.Equal(servedByA, _a.Requests);
    }

    [Fact]
    public async Task PutDestination_AddedThenRemoved_ScalesOutAndBackIn()
    {
        await _gateway.PutLabConfigAsync(_client, $$"""{"{{GatewayInstance.DestinationsKey}}:r2:Address": "{{_b.Address}}"}""");

        await GatewayAssertions.EventuallyAsync(async () => await _client.ServedByAsync() == "b", "traffic on the added replica");
        var served = new List<string>();
        for (var i = 0; i < Requests; i++)
        {
            served.Add(await _client.ServedByAsync());
        }

        Assert.Contains("a", served);
        Assert.Contains("b", served);

        await _gateway.PutLabConfigAsync(_client, $$"""{"{{GatewayInstance.DestinationsKey}}:r2:Address": null}""");

        await GatewayAssertions.EventuallyAsync(async () => await AllServedByAsync("a"), "the removed replica leaving rotation");
    }

    [Theory]
    [InlineData("not a url")]
    [InlineData("ftp://127.0.0.1/")]
    [InlineData("")]
    public async Task PutDestination_InvalidAddress_Returns400AndKeepsRouting(string address)
    {
        var put = await _gateway.PutLabConfigAsync(_client, $$"""{"{{GatewayInstance.DestinationsKey}}:r1:Address": "{{address}}"}""");

        var problem = await put.AssertProblemAsync(HttpStatusCode.BadRequest);
        Assert.Contains("Destinations:r1:Address", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal("a", await _client.ServedByAsync());
    }

    [Theory]
    [InlineData("ReverseProxy:Clusters:shop:LoadBalancingPolicy", "NoSuchPolicy", "NoSuchPolicy")]
    [InlineData("ReverseProxy:Clusters:shop:HealthCheck:Active:Interval", "banana", "ReverseProxy")]
    public async Task PutProxySetting_TheProxyRefuses_Returns400WithItsReasonAndChangesNothing(string key, string value, string named)
    {
        var put = await _gateway.PutLabConfigAsync(_client, $$"""{"{{key}}": "{{value}}"}""");

        var problem = await put.AssertProblemAsync(HttpStatusCode.BadRequest);
        Assert.Contains(named, problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        var overrides = await (await LabClient.SendAsync(_client, HttpMethod.Get, _gateway.Token)).Content.ReadAsStringAsync();
        Assert.DoesNotContain(key, overrides, StringComparison.Ordinal);
        Assert.Equal("a", await _client.ServedByAsync());
    }

    private async Task<bool> AllServedByAsync(string backend)
    {
        for (var i = 0; i < Requests; i++)
        {
            if (await _client.ServedByAsync() != backend)
            {
                return false;
            }
        }

        return true;
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _gateway.DisposeAsync();
        await _a.DisposeAsync();
        await _b.DisposeAsync();
    }
}
