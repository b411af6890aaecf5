using System.Net;
using Firedrill.Shop.Tests.Support;
using Npgsql;

namespace Firedrill.Shop.Tests.Features.Orders;

/// <summary>
/// The autoscaling-no-relief incident's order paths (hot-row) against a real database and a real
/// inventory process: whether a product's row stays locked while the inventory service is called.
/// </summary>
public sealed class HotRowTests : IAsyncLifetime
{
    private const string LockNotAvailable = "55P03";
    private InventoryProcess _inventory = null!;
    private TestDatabase _database = null!;

    public async Task InitializeAsync()
    {
        _inventory = await InventoryProcess.StartAsync();
        _database = await Engines.CreateDatabaseAsync();
    }

    public async Task DisposeAsync()
    {
        await _inventory.DisposeAsync();
        await _database.DisposeAsync();
    }

    private ShopInstance Shop(params (string Key, string Value)[] settings)
    {
        var all = new Dictionary<string, string?>
        {
            ["Orders:ReserveInventory"] = "true",
            ["InventoryClient:BaseAddress"] = _inventory.Address.ToString(),
            ["InventoryClient:MaxRetries"] = "0",
            ["InventoryClient:AttemptTimeout"] = "00:00:10",
            ["InventoryClient:TotalTimeout"] = "00:00:10",
            ["InventoryClient:CircuitBreakerEnabled"] = "false",
        };
        foreach (var (key, value) in settings)
        {
            all[key] = value;
        }

        return new ShopInstance(_database.ConnectionString, all);
    }

    [Fact]
    public async Task PlaceOrder_StockLockedAcrossInventoryCall_HoldsTheRowDuringTheCall()
    {
        await _inventory.SetAsync("""{"Inventory:LatencyMs": 3000, "Inventory:LatencyDistribution": "Fixed"}""");
        await using var shop = Shop(("Orders:StockLockedAcrossInventoryCall", "true"));
        using var client = shop.CreateClient();

        var order = client.PostJsonAsync("/orders", """{"customerId": 1, "lines": [{"productId": 7, "quantity": 1}]}""");
        // The order's transaction waits on the inventory call with the row locked: "idle in transaction".
        await WaitForIdleInTransactionAsync();
        var locked = await Assert.ThrowsAsync<PostgresException>(() => LockRowNowaitAsync(7));

        Assert.Equal(LockNotAvailable, locked.SqlState);
        Assert.Equal(HttpStatusCode.Created, (await order).StatusCode);
    }

    [Fact]
    public async Task PlaceOrder_CorrectPath_LeavesTheRowFreeDuringTheCall()
    {
        await _inventory.SetAsync("""{"Inventory:LatencyMs": 3000, "Inventory:LatencyDistribution": "Fixed"}""");
        await using var shop = Shop();
        using var client = shop.CreateClient();
        var stock = await StockAsync(8);

        var order = client.PostJsonAsync("/orders", """{"customerId": 1, "lines": [{"productId": 8, "quantity": 1}]}""");
        // Well inside the 3 s call: the row can be taken at once, and no transaction of the shop is open.
        await Task.Delay(TimeSpan.FromSeconds(1));
        await LockRowNowaitAsync(8);
        Assert.Equal(0, await TransactionsHoldingProductsAsync());

        Assert.Equal(HttpStatusCode.Created, (await order).StatusCode);
        Assert.Equal(stock - 1, await StockAsync(8));
    }

    [Fact]
    public async Task PlaceOrder_ConditionalUpdateRacingForTheLastUnits_NeverOversells()
    {
        await using var shop = Shop(("Orders:ReserveInventory", "false"));
        using var client = shop.CreateClient();
        // The shop creates and seeds its tables as it starts.
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/products/9")).StatusCode);
        await using (var connection = await OpenAsync())
        {
            await using var command = new NpgsqlCommand("UPDATE products SET stock = 3 WHERE id = 9", connection);
            await command.ExecuteNonQueryAsync();
        }

        var responses = await Task.WhenAll(Enumerable.Range(1, 10).Select(i =>
            client.PostJsonAsync("/orders", $$"""{"customerId": {{i}}, "lines": [{"productId": 9, "quantity": 1}]}""")));

        Assert.Equal(3, responses.Count(response => response.StatusCode == HttpStatusCode.Created));
        Assert.Equal(7, responses.Count(response => response.StatusCode == HttpStatusCode.Conflict));
        Assert.Equal(0, await StockAsync(9));
    }

    private async Task<NpgsqlConnection> OpenAsync()
    {
        var connection = new NpgsqlConnection(_database.ConnectionString);
        await connection.OpenAsync();
        return connection;
    }

    private async Task LockRowNowaitAsync(long productId)
    {
        await using var connection = await OpenAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        await using var command = new NpgsqlCommand($"SELECT stock FROM products WHERE id = {productId} FOR UPDATE NOWAIT", connection, transaction);
        await command.ExecuteScalarAsync();
        await transaction.RollbackAsync();
    }

    private async Task<int> StockAsync(long productId)
    {
        await using var connection = await OpenAsync();
        await using var command = new NpgsqlCommand($"SELECT stock FROM products WHERE id = {productId}", connection);
        return (int)(await command.ExecuteScalarAsync())!;
    }

    private async Task<long> TransactionsHoldingProductsAsync()
    {
        await using var connection = await OpenAsync();
        await using var command = new NpgsqlCommand(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND state LIKE 'idle in transaction%' AND query LIKE '%FROM products%FOR UPDATE%'", connection);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private async Task WaitForIdleInTransactionAsync()
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (await TransactionsHoldingProductsAsync() == 0)
        {
            Assert.True(DateTime.UtcNow < deadline, "no order transaction held a product row within 10 s");
            await Task.Delay(50);
        }
    }
}
