using System.Net;
using Firedrill.Shop.Tests.Support;

namespace Firedrill.Shop.Tests.Data;

/// <summary>The db-pool-exhaustion incident's code paths against a real pool, a real database and a real inventory process.</summary>
public sealed class ConnectionPoolTests : IAsyncLifetime
{
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
            ["InventoryClient:BaseAddress"] = _inventory.Address.ToString(),
            ["InventoryClient:MaxRetries"] = "0",
            ["InventoryClient:AttemptTimeout"] = "00:00:05",
            ["InventoryClient:TotalTimeout"] = "00:00:05",
            ["InventoryClient:CircuitBreakerEnabled"] = "false",
            ["Db:MaxPoolSize"] = "2",
            ["Db:AcquireTimeoutSeconds"] = "1",
        };
        foreach (var (key, value) in settings)
        {
            all[key] = value;
        }

        return new ShopInstance(_database.ConnectionString, all);
    }

    [Fact]
    public async Task PlaceOrder_ReserveInsideTransactionAtPeak_SomeAnswer503DatabaseBusy()
    {
        await _inventory.SetAsync("""{"Inventory:LatencyMs": 800}""");
        await using var shop = Shop(("Orders:ReserveInventory", "true"), ("Orders:ReserveInsideTransaction", "true"));
        using var client = shop.CreateClient();

        // Two connections, each held 0.8 s across the reservation: the fifth and sixth orders wait out the 1 s acquisition timeout.
        var responses = await Task.WhenAll(Enumerable.Range(1, 6).Select(i =>
            client.PostJsonAsync("/orders", $$"""{"customerId": {{i}}, "lines": [{"productId": {{i}}, "quantity": 1}]}""")));

        Assert.Contains(responses, response => response.StatusCode == HttpStatusCode.Created);
        var busy = responses.First(response => response.StatusCode == HttpStatusCode.ServiceUnavailable);
        var problem = await busy.AssertProblemAsync(HttpStatusCode.ServiceUnavailable);
        Assert.Equal("Database busy", problem.GetProperty("title").GetString());
        Assert.Equal("1", busy.Headers.RetryAfter?.ToString());
    }

    [Fact]
    public async Task PlaceOrder_ReservationBeforeTransactionAtPeak_AllPlaced()
    {
        await _inventory.SetAsync("""{"Inventory:LatencyMs": 800}""");
        await using var shop = Shop(("Orders:ReserveInventory", "true"));
        using var client = shop.CreateClient();

        var responses = await Task.WhenAll(Enumerable.Range(1, 6).Select(i =>
            client.PostJsonAsync("/orders", $$"""{"customerId": {{i}}, "lines": [{"productId": {{10 + i}}, "quantity": 1}]}""")));

        Assert.All(responses, response => Assert.Equal(HttpStatusCode.Created, response.StatusCode));
    }

    [Fact]
    public async Task Availability_LeakyLookupWhileInventoryFails_DrainsThePool()
    {
        await _inventory.SetAsync("""{"Inventory:ErrorRate": 1}""");
        await using var shop = Shop(("Catalog:LeakyAvailabilityLookup", "true"));
        using var client = shop.CreateClient();

        // Each fallback answer leaks one of the pool's two connections...
        for (var i = 1; i <= 2; i++)
        {
            var availability = await (await client.GetAsync($"/products/{i}/availability")).ReadJsonAsync();
            Assert.Equal("unknown", availability.GetProperty("status").GetString());
        }

        // ...and then nothing that needs the database can get a connection.
        var problem = await (await client.GetAsync("/customers/1/orders")).AssertProblemAsync(HttpStatusCode.ServiceUnavailable);
        Assert.Equal("Database busy", problem.GetProperty("title").GetString());
    }

    [Fact]
    public async Task Availability_CorrectPathWhileInventoryFails_KeepsThePool()
    {
        await _inventory.SetAsync("""{"Inventory:ErrorRate": 1}""");
        await using var shop = Shop();
        using var client = shop.CreateClient();

        for (var i = 1; i <= 5; i++)
        {
            Assert.Equal("unknown", (await (await client.GetAsync($"/products/{i}/availability")).ReadJsonAsync()).GetProperty("status").GetString());
        }

        await (await client.GetAsync("/customers/1/orders")).ReadJsonAsync();
    }
}
