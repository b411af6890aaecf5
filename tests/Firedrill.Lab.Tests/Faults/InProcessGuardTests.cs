using System.Net;
using Firedrill.Lab.Faults.Support;

namespace Firedrill.Lab.Tests.Faults;

/// <summary>The control-plane fault's fallback where no network namespace is allowed: the services' own guard, in process.</summary>
public sealed class InProcessGuardTests
{
    private const string Token = "0123456789ABCDEF0123456789ABCDEF";

    [Fact]
    public async Task Guard_NonLoopbackRemoteWithTheToken_Refused()
    {
        await using var guard = await InProcessGuard.StartAsync(Token, CancellationToken.None);
        using var client = new HttpClient { BaseAddress = new Uri(guard.Urls.First()) };
        using var request = new HttpRequestMessage(HttpMethod.Get, "/_lab/config");
        request.Headers.Add("X-Lab-Token", Token);
        request.Headers.Add(InProcessGuard.RemoteHeader, "203.0.113.7");

        using var response = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task Guard_LoopbackWithTheToken_Answers()
    {
        await using var guard = await InProcessGuard.StartAsync(Token, CancellationToken.None);
        using var client = new HttpClient { BaseAddress = new Uri(guard.Urls.First()) };
        using var request = new HttpRequestMessage(HttpMethod.Get, "/_lab/config");
        request.Headers.Add("X-Lab-Token", Token);

        using var response = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }
}
