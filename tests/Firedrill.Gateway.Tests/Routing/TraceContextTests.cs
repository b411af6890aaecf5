using System.Net.Http.Json;
using Firedrill.Gateway.Tests.Support;

namespace Firedrill.Gateway.Tests.Routing;

public sealed class TraceContextTests : IAsyncLifetime
{
    private Backend _backend = null!;

    public async Task InitializeAsync() => _backend = await Backend.StartAsync("a");

    [Fact]
    public async Task Proxy_ByDefault_ForwardsTheGatewaysTraceAndReturnsItToTheCaller()
    {
        await using var gateway = new GatewayInstance([_backend]);
        using var client = gateway.CreateClient();

        using var response = await client.GetAsync("/api/products/1");
        var echo = await response.Content.ReadFromJsonAsync<Echo>();

        var returned = TraceId(Assert.Single(response.Headers.GetValues("traceresponse")));
        Assert.True(echo!.Headers.TryGetValue("traceparent", out var traceparent), "the replica got no traceparent");
        Assert.Equal(returned, TraceId(traceparent));
    }

    [Fact]
    public async Task Proxy_PropagationOff_ForwardsNoTraceContext()
    {
        await using var gateway = new GatewayInstance([_backend]);
        using var client = gateway.CreateClient();
        await gateway.PutLabConfigAsync(client, """{"Telemetry:PropagateTraceContext": false}""");
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/products/1");
        // Even the caller's own context does not pass: the gateway removes it and injects nothing.
        request.Headers.Add("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");

        using var response = await client.SendAsync(request);
        var echo = await response.Content.ReadFromJsonAsync<Echo>();

        Assert.False(echo!.Headers.ContainsKey("traceparent"), $"the replica got {echo.Headers.GetValueOrDefault("traceparent")}");
        // The caller still learns the id its request had at the gateway: the caller's own trace.
        Assert.Equal("4bf92f3577b34da6a3ce929d0e0e4736", TraceId(Assert.Single(response.Headers.GetValues("traceresponse"))));
    }

    private static string TraceId(string header)
    {
        var parts = header.Split('-');
        Assert.Equal(4, parts.Length);
        Assert.Matches("^[0-9a-f]{32}$", parts[1]);
        return parts[1];
    }

    public async Task DisposeAsync() => await _backend.DisposeAsync();
}
