using System.Net;
using Firedrill.Lab.Faults.Support;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;

namespace Firedrill.Lab.Tests.Faults;

/// <summary>The proxy of fault 2 against a real Kestrel: it loses the answers of POSTs, after the server has handled them.</summary>
public sealed class CuttingProxyTests : IAsyncLifetime
{
    private WebApplication _server = null!;
    private int _handled;

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        _server = builder.Build();
        _server.MapPost("/work", () =>
        {
            Interlocked.Increment(ref _handled);
            return Results.Ok("done");
        });
        _server.MapGet("/read", () => Results.Ok("read"));
        await _server.StartAsync();
    }

    [Fact]
    public async Task CutShare_One_EveryPostIsHandledAndItsAnswerLost()
    {
        await using var proxy = new CuttingProxy(new Uri(_server.Urls.Single()), seed: 1) { CutShare = 1 };
        using var client = new HttpClient { BaseAddress = proxy.Address };

        for (var i = 0; i < 5; i++)
        {
            await Assert.ThrowsAsync<HttpRequestException>(() => client.PostAsync("/work", null));
        }

        Assert.Equal(5, proxy.Cuts);
        // The server did the work every time: the answer, not the request, was lost.
        Assert.True(Volatile.Read(ref _handled) >= 5);
    }

    [Fact]
    public async Task CutShare_One_GetsPassUntouched()
    {
        await using var proxy = new CuttingProxy(new Uri(_server.Urls.Single()), seed: 1) { CutShare = 1 };
        using var client = new HttpClient { BaseAddress = proxy.Address };

        using var response = await client.GetAsync("/read");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(0, proxy.Cuts);
    }

    [Fact]
    public async Task CutShare_Zero_ForwardsEverything()
    {
        await using var proxy = new CuttingProxy(new Uri(_server.Urls.Single()), seed: 1);
        using var client = new HttpClient { BaseAddress = proxy.Address };

        for (var i = 0; i < 5; i++)
        {
            using var response = await client.PostAsync("/work", null);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        Assert.Equal(0, proxy.Cuts);
        Assert.Equal(5, proxy.Posts);
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();
}
