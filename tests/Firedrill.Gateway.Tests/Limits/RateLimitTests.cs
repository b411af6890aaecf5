using System.Net;
using Firedrill.Gateway.Tests.Support;

namespace Firedrill.Gateway.Tests.Limits;

public sealed class RateLimitTests : IAsyncLifetime
{
    // Sequential requests on loopback take milliseconds, far less than a second's refill: a bucket
    // of 2 runs dry well within this many.
    private const int MaxAttempts = 20;
    private Backend _backend = null!;

    public async Task InitializeAsync() => _backend = await Backend.StartAsync("a");

    [Fact]
    public async Task Get_OverPerClientLimit_Returns429WithRetryAfter()
    {
        await using var gateway = new GatewayInstance([_backend], new Dictionary<string, string?>
        {
            ["Gateway:PermitsPerSecond"] = "1",
            ["Gateway:Burst"] = "2",
        });
        using var client = gateway.CreateClient();

        var (accepted, rejected) = await SendUntilRejectedAsync(client);

        Assert.True(accepted >= 2, $"only {accepted} requests were accepted before the first 429");
        var response = Assert.IsType<HttpResponseMessage>(rejected);
        await response.AssertProblemAsync(HttpStatusCode.TooManyRequests);
        var retryAfter = response.Headers.RetryAfter?.Delta;
        Assert.True(retryAfter >= TimeSpan.FromSeconds(1), $"Retry-After was {response.Headers.RetryAfter}");
        Assert.Equal(accepted, _backend.Requests);
    }

    [Fact]
    public async Task PutRateLimit_AtRunTime_TakesEffectWithoutRestart()
    {
        await using var gateway = new GatewayInstance([_backend]);
        using var client = gateway.CreateClient();
        var (acceptedBefore, rejectedBefore) = await SendUntilRejectedAsync(client);
        Assert.Null(rejectedBefore);

        var put = await gateway.PutLabConfigAsync(client, """{"Gateway:PermitsPerSecond": 1, "Gateway:Burst": 1}""");

        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        var (_, rejected) = await SendUntilRejectedAsync(client);
        Assert.NotNull(rejected);
        Assert.Equal(MaxAttempts, acceptedBefore);
    }

    [Fact]
    public async Task Get_UsersBehindOneProxy_EachHasTheirOwnBucket()
    {
        await using var gateway = new GatewayInstance([_backend], new Dictionary<string, string?>
        {
            ["Gateway:PermitsPerSecond"] = "1",
            ["Gateway:Burst"] = "2",
        });
        using var client = gateway.CreateClient();

        var statuses = await FromUsersBehindOneProxyAsync(client, users: 10);

        Assert.All(statuses, status => Assert.Equal(HttpStatusCode.OK, status));
    }

    [Fact]
    public async Task Get_UsersBehindOneProxy_ForwardedHeadersNotTrusted_ShareOneBucket()
    {
        await using var gateway = new GatewayInstance([_backend], new Dictionary<string, string?>
        {
            ["Gateway:PermitsPerSecond"] = "1",
            ["Gateway:Burst"] = "2",
            ["Gateway:TrustForwardedHeaders"] = "false",
        });
        using var client = gateway.CreateClient();

        var statuses = await FromUsersBehindOneProxyAsync(client, users: 10);

        Assert.True(statuses.Count(status => status == HttpStatusCode.TooManyRequests) >= 7, string.Join(", ", statuses));
    }

    /// <summary>One request from each user, in turn, all through one proxy (this loopback client) naming them in X-Forwarded-For.</summary>
    private static async Task<List<HttpStatusCode>> FromUsersBehindOneProxyAsync(HttpClient client, int users)
    {
        var statuses = new List<HttpStatusCode>();
        for (var user = 1; user <= users; user++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/api/products/1");
            request.Headers.Add("X-Forwarded-For", $"198.51.100.{user}");
            statuses.Add((await client.SendAsync(request)).StatusCode);
        }

        return statuses;
    }

    private static async Task<(int Accepted, HttpResponseMessage? Rejected)> SendUntilRejectedAsync(HttpClient client)
    {
        for (var i = 0; i < MaxAttempts; i++)
        {
            var response = await client.GetAsync("/api/products/1");
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
            {
                return (i, response);
            }

            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        return (MaxAttempts, null);
    }

    public async Task DisposeAsync() => await _backend.DisposeAsync();
}
