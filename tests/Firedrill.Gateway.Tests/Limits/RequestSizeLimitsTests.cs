using System.Net;
using Firedrill.Gateway.Tests.Support;

namespace Firedrill.Gateway.Tests.Limits;

public sealed class RequestSizeLimitsTests : IAsyncLifetime
{
    private const int BodyLimit = 1024;
    private const int HeaderLimit = 4096;
    private Backend _backend = null!;
    private GatewayInstance _gateway = null!;
    private HttpClient _client = null!;

    public async Task InitializeAsync()
    {
        _backend = await Backend.StartAsync("a");
        _gateway = new GatewayInstance([_backend], new Dictionary<string, string?>
        {
            ["Gateway:MaxRequestBodyBytes"] = BodyLimit.ToString(),
            ["Gateway:MaxRequestHeadersTotalBytes"] = HeaderLimit.ToString(),
        });
        _client = _gateway.CreateClient();
    }

    [Fact]
    public async Task Post_ContentLengthOverLimit_Returns413WithoutReachingReplica()
    {
        var response = await _client.PostAsync("/api/orders", new ByteArrayContent(new byte[BodyLimit * 2]));

        await response.AssertProblemAsync(HttpStatusCode.RequestEntityTooLarge);
        Assert.True(response.Headers.ConnectionClose, "the unread body must not be left on a connection the client reuses");
        await AssertOnlyTheNextRequestReachesReplicaAsync();
    }

    [Fact]
    public async Task Post_ChunkedOverLimit_Returns413WithoutReachingReplica()
    {
        // The first half is within the limit; a gateway that streamed it would already have
        // started the request at the replica. Give it a bounded chance to, then send the rest.
        var content = new ChunkedContent(new byte[BodyLimit * 2], halfway: () => WaitForReplicaAsync(TimeSpan.FromSeconds(2)));

        var response = await _client.PostAsync("/api/orders", content);

        await response.AssertProblemAsync(HttpStatusCode.RequestEntityTooLarge);
        await AssertOnlyTheNextRequestReachesReplicaAsync();
    }

    [Fact]
    public async Task Post_ChunkedWithinLimit_ForwardsTheWholeBody()
    {
        var echo = await (await _client.PostAsync("/api/orders", new ChunkedContent(new byte[BodyLimit]))).ReadEchoAsync();

        Assert.Equal(BodyLimit, echo.BodyLength);
    }

    [Fact]
    public async Task Get_HeadersOverLimit_Returns431WithoutReachingReplica()
    {
        var request = new HttpRequestMessage(HttpMethod.Get, "/api/products/1");
        request.Headers.Add("X-Padding", new string('p', HeaderLimit));

        await (await _client.SendAsync(request)).AssertProblemAsync(HttpStatusCode.RequestHeaderFieldsTooLarge);
        await AssertOnlyTheNextRequestReachesReplicaAsync();
    }

    [Fact]
    public async Task PutMaxRequestHeadersTotalBytes_AboveKestrelsDefault_GovernsAtRunTime()
    {
        // Kestrel's own default (32 KiB) would refuse this before the gateway saw it.
        var padding = new string('p', 40 * 1024);
        var put = await _gateway.PutLabConfigAsync(_client, """{"Gateway:MaxRequestHeadersTotalBytes": 65536}""");
        var request = new HttpRequestMessage(HttpMethod.Get, "/api/products/1");
        request.Headers.Add("X-Padding", padding);

        var echo = await (await _client.SendAsync(request)).ReadEchoAsync();

        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        Assert.Equal(padding, echo.Headers["X-Padding"]);
    }

    [Fact]
    public async Task PutMaxRequestBodyBytes_AtRunTime_TakesEffectWithoutRestart()
    {
        var body = new byte[BodyLimit * 2];
        await (await _client.PostAsync("/api/orders", new ByteArrayContent(body))).AssertProblemAsync(HttpStatusCode.RequestEntityTooLarge);

        var put = await _gateway.PutLabConfigAsync(_client, $$"""{"Gateway:MaxRequestBodyBytes": {{BodyLimit * 4}}}""");

        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        Assert.Equal(body.Length, (await (await _client.PostAsync("/api/orders", new ByteArrayContent(body))).ReadEchoAsync()).BodyLength);
        Assert.Equal(body.Length, (await (await _client.PostAsync("/api/orders", new ChunkedContent(body))).ReadEchoAsync()).BodyLength);
    }

    [Theory]
    [InlineData("""{"Gateway:MaxRequestBodyBytes": -1}""")]
    [InlineData("""{"Gateway:MaxRequestHeadersTotalBytes": 999999999}""")]
    [InlineData("""{"Gateway:RequestTimeout": "later"}""")]
    [InlineData("""{"Gateway:PermitsPerSecond": 100, "Gateway:Burst": 10}""")]
    public async Task PutGatewayOptions_Invalid_Returns400AndKeepsTheLimits(string json)
    {
        await (await _gateway.PutLabConfigAsync(_client, json)).AssertProblemAsync(HttpStatusCode.BadRequest);

        await (await _client.PostAsync("/api/orders", new ByteArrayContent(new byte[BodyLimit * 2])))
            .AssertProblemAsync(HttpStatusCode.RequestEntityTooLarge);
        Assert.Equal(BodyLimit, (await (await _client.PostAsync("/api/orders", new ByteArrayContent(new byte[BodyLimit]))).ReadEchoAsync()).BodyLength);
    }

    /// <summary>
    /// A refused request must not have been started at the replica either. A request forwarded
    /// afterwards is the barrier: a refused one that had been forwarded would have arrived first.
    /// </summary>
    private async Task AssertOnlyTheNextRequestReachesReplicaAsync()
    {
        await (await _client.GetAsync("/api/after")).ReadEchoAsync();

        Assert.Equal(["/after"], _backend.Paths);
    }

    private async Task WaitForReplicaAsync(TimeSpan atMost)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (_backend.Requests == 0 && clock.Elapsed < atMost)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(50));
        }
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _gateway.DisposeAsync();
        await _backend.DisposeAsync();
    }
}
