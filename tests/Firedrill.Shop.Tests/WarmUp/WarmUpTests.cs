using System.Net;
using System.Text.Json;
using Firedrill.Shop.Tests.Support;

namespace Firedrill.Shop.Tests.WarmUp;

public sealed class WarmUpTests : IAsyncLifetime
{
    private TestDatabase _database = null!;

    public async Task InitializeAsync() => _database = await Engines.CreateDatabaseAsync();

    [Fact]
    public async Task Ready_WarmUpOn_IsReadyOnlyOnceWarm()
    {
        await using var shop = new ShopInstance(_database.ConnectionString, new Dictionary<string, string?> { ["WarmUp:Enabled"] = "true" });
        using var client = shop.CreateClient();

        var (before, ready) = await ProbeUntilReadyAsync(client);

        // Every probe before the first 200 said the replica was still warming; the 200 says it is warm.
        Assert.All(before, warmUp => Assert.DoesNotContain("warm:", warmUp, StringComparison.Ordinal));
        Assert.StartsWith("warm: 8 connections, 150 requests", ready, StringComparison.Ordinal);
        Assert.Matches(@"firedrill_warmup_complete(\{[^}]*\})? 1", await client.GetStringAsync("/metrics"));
    }

    [Fact]
    public async Task Ready_ReadyBeforeWarmUp_TakesTrafficWhileStillWarming()
    {
        // A warm-up far longer than the test, so the replica is still warming throughout.
        await using var shop = new ShopInstance(_database.ConnectionString, new Dictionary<string, string?>
        {
            ["WarmUp:Enabled"] = "true",
            ["WarmUp:ReadyBeforeWarmUp"] = "true",
            ["WarmUp:Requests"] = "100000",
            ["WarmUp:Concurrency"] = "1",
        });
        using var client = shop.CreateClient();

        var (_, ready) = await ProbeUntilReadyAsync(client);
        var product = await client.GetAsync("/products/1");
        var metrics = await client.GetStringAsync("/metrics");

        Assert.Contains("ready without waiting for the warm-up", ready, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, product.StatusCode);
        Assert.Matches(@"firedrill_warmup_complete(\{[^}]*\})? 0", metrics);
        Assert.Matches(@"firedrill_warmup_requests_served_cold_total(\{[^}]*\})? [1-9]", metrics);
    }

    [Fact]
    public async Task Ready_WarmUpOff_ReadyWithoutOne()
    {
        await using var shop = new ShopInstance(_database.ConnectionString);
        using var client = shop.CreateClient();

        var (_, ready) = await ProbeUntilReadyAsync(client);

        Assert.Equal("no warm-up", ready);
    }

    /// <summary>Probes readiness until 200; returns the warm-up check's description of each earlier probe, and of the 200.</summary>
    private static async Task<(List<string> Before, string Ready)> ProbeUntilReadyAsync(HttpClient client)
    {
        var before = new List<string>();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (true)
        {
            using var response = await client.GetAsync("/health/ready");
            var warmUp = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement
                .GetProperty("checks").GetProperty("warm-up").GetProperty("error").GetString() ?? "";
            if (response.StatusCode == HttpStatusCode.OK)
            {
                return (before, warmUp);
            }

            Assert.True(DateTime.UtcNow < deadline, $"not ready within 60 s: {warmUp}");
            before.Add(warmUp);
            await Task.Delay(50);
        }
    }

    public async Task DisposeAsync() => await _database.DisposeAsync();
}
