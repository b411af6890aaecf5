using System.Net;
using Firedrill.Shop.Tests.Support;
using Npgsql;

namespace Firedrill.Shop.Tests.Data;

public sealed class DatabaseInitializerTests : IAsyncLifetime
{
    private TestDatabase _database = null!;

    public async Task InitializeAsync() => _database = await Engines.CreateDatabaseAsync();

    public Task DisposeAsync() => _database.DisposeAsync().AsTask();

    [Fact]
    public async Task Start_FirstConnectionUnanswered_TriesAgainAndServes()
    {
        var direct = new NpgsqlConnectionStringBuilder(_database.ConnectionString);
        await using var proxy = new TcpProxy(direct.Host!, direct.Port);
        // A server too busy to answer a starting replica's first connection within the pool's timeout (3 s:
        // the connections after it must still open within it on a busy machine; 1 s failed once in a full run).
        proxy.HoldNext(1);
        var proxied = new NpgsqlConnectionStringBuilder(_database.ConnectionString) { Host = "127.0.0.1", Port = proxy.Port };

        await using var shop = new ShopInstance(proxied.ConnectionString, new Dictionary<string, string?> { ["Db:AcquireTimeoutSeconds"] = "3" });
        using var client = shop.CreateClient();

        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/customers/1/orders")).StatusCode);
        Assert.Equal(1, proxy.Held);
    }
}
