using System.Net;
using Firedrill.Gateway.Tests.Support;
using Firedrill.ServiceDefaults.Control;

namespace Firedrill.Gateway.Tests.Routing;

public sealed class ProxyRoutingTests : IAsyncLifetime
{
    private Backend _backend = null!;
    private GatewayInstance _gateway = null!;
    private HttpClient _client = null!;

    public async Task InitializeAsync()
    {
        _backend = await Backend.StartAsync("a");
        _gateway = new GatewayInstance([_backend]);
        _client = _gateway.CreateClient();
    }

    [Fact]
    public async Task Get_ApiPath_ForwardsWithoutPrefixWithOwnForwardedHeadersAndWithoutLabToken()
    {
        var request = new HttpRequestMessage(HttpMethod.Get, "/api/products/1?verbose=true");
        request.Headers.Add(LabControlEndpoints.TokenHeader, _gateway.Token);

        var echo = await (await _client.SendAsync(request)).ReadEchoAsync();

        Assert.Equal("/products/1", echo.Path);
        Assert.Equal("?verbose=true", echo.Query);
        Assert.Equal("127.0.0.1", echo.Headers["X-Forwarded-For"]);
        Assert.Equal("http", echo.Headers["X-Forwarded-Proto"]);
        Assert.True(echo.Headers.ContainsKey("X-Forwarded-Host"));
        // The prefix the route stripped, so the replica's Location headers can carry it back.
        Assert.Equal("/api", echo.Headers["X-Forwarded-Prefix"]);
        Assert.False(echo.Headers.ContainsKey(LabControlEndpoints.TokenHeader));
    }

    [Fact]
    public async Task Get_ForwardedForFromAKnownProxy_ForwardsTheClientBehindIt()
    {
        // This loopback client is a known proxy (ASP.NET Core's defaults): the user it names is the client.
        var request = new HttpRequestMessage(HttpMethod.Get, "/api/products/1");
        request.Headers.Add("X-Forwarded-For", "203.0.113.9");

        var echo = await (await _client.SendAsync(request)).ReadEchoAsync();

        Assert.Equal("203.0.113.9", echo.Headers["X-Forwarded-For"]);
    }

    [Fact]
    public async Task Get_ForwardedForNotTrusted_IsReplacedByTheConnectionsAddress()
    {
        await using var gateway = new GatewayInstance([_backend], new Dictionary<string, string?> { ["Gateway:TrustForwardedHeaders"] = "false" });
        using var client = gateway.CreateClient();
        var request = new HttpRequestMessage(HttpMethod.Get, "/api/products/1");
        request.Headers.Add("X-Forwarded-For", "203.0.113.9");

        var echo = await (await client.SendAsync(request)).ReadEchoAsync();

        Assert.Equal("127.0.0.1", echo.Headers["X-Forwarded-For"]);
    }

    [Fact]
    public async Task Get_ReplicaErrorWithEmptyBody_PassesThroughUnchanged()
    {
        var response = await _client.GetAsync("/api/status/409");

        Assert.Equal(HttpStatusCode.Conflict, response.StatusCode);
        Assert.Equal("", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Get_ReplicaUnreachable_Returns502Problem()
    {
        // A port that was free a moment ago: nothing listens there.
        using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        await using var gateway = new GatewayInstance([], new Dictionary<string, string?>
        {
            [$"{GatewayInstance.DestinationsKey}:r1:Address"] = $"http://127.0.0.1:{port}/",
        });
        using var client = gateway.CreateClient();

        await (await client.GetAsync("/api/products/1")).AssertProblemAsync(HttpStatusCode.BadGateway);
    }

    [Theory]
    [InlineData("/api/_lab/config")]
    [InlineData("/api/_LAB/config")]
    [InlineData("/api//_lab/config")]
    [InlineData("/api/_lab")]
    [InlineData("/api/%5Flab/config")]
    [InlineData("/api/%255Flab/config")]
    [InlineData("/api/products/../_Lab/config")]
    public async Task Send_LabPath_Returns404WithoutReachingReplica(string path)
    {
        foreach (var method in new[] { HttpMethod.Get, HttpMethod.Put })
        {
            var request = new HttpRequestMessage(method, path);
            request.Headers.Add(LabControlEndpoints.TokenHeader, _gateway.Token);
            if (method == HttpMethod.Put)
            {
                request.Content = new StringContent("""{"Lab:Enabled": "false"}""", System.Text.Encoding.UTF8, "application/json");
            }

            await (await _client.SendAsync(request)).AssertProblemAsync(HttpStatusCode.NotFound);
        }

        Assert.True(_backend.Requests == 0, $"the replica saw {string.Join(", ", _backend.Paths)}");
    }

    [Fact]
    public async Task Config_GatewaysOwnEndpoint_AnswersLoopbackCallerWithToken()
    {
        var withToken = new HttpRequestMessage(HttpMethod.Get, LabControlEndpoints.Path);
        withToken.Headers.Add(LabControlEndpoints.TokenHeader, _gateway.Token);

        Assert.Equal(HttpStatusCode.OK, (await _client.SendAsync(withToken)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await _client.GetAsync(LabControlEndpoints.Path)).StatusCode);
        Assert.Equal(0, _backend.Requests);
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _gateway.DisposeAsync();
        await _backend.DisposeAsync();
    }
}
