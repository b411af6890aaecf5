using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Firedrill.Shop.Features.Catalog;
using Firedrill.Shop.Tests.Support;
using StackExchange.Redis;

namespace Firedrill.Shop.Tests.Health;

/// <summary>
/// Redis is a cache: when the shop loses it, the catalog is read from PostgreSQL at once (the
/// client fails fast rather than waiting for a reconnect), and readiness says Degraded.
/// </summary>
public sealed class RedisLostTests : IAsyncLifetime
{
    private TestDatabase _database = null!;
    private TcpProxy _redis = null!;

    public async Task InitializeAsync()
    {
        _database = await Engines.CreateDatabaseAsync();
        var (host, port) = Endpoint(Engines.Redis);
        // The shop reaches Redis only through this proxy, so the test can take Redis away from it.
        _redis = new TcpProxy(host, port);
    }

    [Fact]
    public async Task ProductRead_RedisLost_AnsweredFromPostgresAtOnceAndReadinessDegraded()
    {
        await using var shop = new ShopInstance(_database.ConnectionString, new Dictionary<string, string?> { ["ConnectionStrings:Redis"] = $"127.0.0.1:{_redis.Port}" });
        using var client = shop.CreateClient();
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/health/ready")).StatusCode);

        _redis.Cut();
        var ready = await HealthProbe.FirstNotOkAsync(client, "/health/ready");
        // Products never read before: neither this replica's memory nor Redis can answer them.
        var started = Stopwatch.GetTimestamp();
        var products = new List<Product>();
        for (var id = 21; id <= 30; id++)
        {
            var response = await client.GetAsync($"/products/{id}");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            products.Add(await response.ReadAsync<Product>());
        }

        var elapsed = Stopwatch.GetElapsedTime(started);

        Assert.Equal(Enumerable.Range(21, 10).Select(id => (long)id), products.Select(product => product.Id));
        // With the client's default backlog each read waits out the 5 s command timeout (58 s for the ten,
        // measured); failing fast they take well under a second. 20 s tells the two apart on any machine.
        Assert.True(elapsed < TimeSpan.FromSeconds(20), $"ten reads without Redis took {elapsed}");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        var report = JsonDocument.Parse(await ready.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("Degraded", report.GetProperty("status").GetString());
        Assert.Equal("Degraded", report.GetProperty("checks").GetProperty("redis").GetProperty("status").GetString());
        Assert.Equal("Healthy", report.GetProperty("checks").GetProperty("postgres").GetProperty("status").GetString());
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/health/live")).StatusCode);
    }

    [Fact]
    public async Task PriceUpdate_RedisDownAtReplicaStart_InvalidatesItOnceRedisIsBack()
    {
        // This replica starts while Redis is unreachable (every connection closed at once), then Redis comes back.
        _redis.Refuse();
        await using var late = new ShopInstance(_database.ConnectionString, new Dictionary<string, string?> { ["ConnectionStrings:Redis"] = $"127.0.0.1:{_redis.Port}" });
        using var lateClient = late.CreateClient();
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await HealthProbe.FirstNotOkAsync(lateClient, "/health/ready")).StatusCode);
        _redis.Open();
        await using var other = new ShopInstance(_database.ConnectionString);
        using var otherClient = other.CreateClient();
        var channel = RedisChannel.Literal($"firedrill:{new Npgsql.NpgsqlConnectionStringBuilder(_database.ConnectionString).Database}:cache:invalidate");
        await using var admin = await ConnectionMultiplexer.ConnectAsync(Engines.Redis);

        // Both replicas subscribed: the late one once its reconnect went through.
        Assert.True(await Poll.UntilAsync(async () => await SubscribersAsync(admin, channel) == 2, TimeSpan.FromSeconds(60)),
            $"{await SubscribersAsync(admin, channel)} replica(s) subscribed to {channel} 60 s after Redis came back");
        var original = await (await lateClient.GetAsync("/products/8")).ReadAsync<Product>();
        await (await otherClient.PutJsonAsync("/products/8/price", $$"""{"price": {{original.Price + 1}}}""")).ReadAsync<Product>();

        Assert.True(await Poll.UntilAsync(
                async () => (await (await lateClient.GetAsync("/products/8")).ReadAsync<Product>()).Price == original.Price + 1, TimeSpan.FromSeconds(5)),
            "the replica that started without Redis still answers the old price 5 s after the update");
    }

    private static async Task<long> SubscribersAsync(ConnectionMultiplexer admin, RedisChannel channel) =>
        (long)(await admin.GetDatabase().ExecuteAsync("PUBSUB", "NUMSUB", channel.ToString()))[1];

    private static (string Host, int Port) Endpoint(string redis)
    {
        var address = redis.Split(',')[0];
        var colon = address.LastIndexOf(':');
        return colon < 0 ? (address, 6379) : (address[..colon], int.Parse(address[(colon + 1)..], System.Globalization.CultureInfo.InvariantCulture));
    }

    public async Task DisposeAsync()
    {
        await _redis.DisposeAsync();
        await _database.DisposeAsync();
    }
}
