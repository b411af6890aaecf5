using System.Diagnostics;
using System.Net;
using Firedrill.Shop.Features.Inventory;
using Firedrill.Shop.Tests.Support;

namespace Firedrill.Shop.Tests.Features.Inventory;

/// <summary>The shop's inventory client against a real inventory process whose knobs the tests turn.</summary>
public sealed class InventoryClientTests : IAsyncLifetime
{
    private TestDatabase _database = null!;
    private InventoryProcess _inventory = null!;

    public async Task InitializeAsync()
    {
        _database = await Engines.CreateDatabaseAsync();
        _inventory = await InventoryProcess.StartAsync();
    }

    [Fact]
    public async Task Availability_HealthyInventory_IsKnown()
    {
        await using var shop = Shop();
        using var client = shop.CreateClient();

        var availability = await (await client.GetAsync("/products/5/availability")).ReadAsync<Availability>();

        Assert.Equal(new Availability(5, "SKU-000005", 1_000_000, Availability.Known), availability);
    }

    [Fact]
    public async Task Availability_InventoryFailingEveryRetry_LogsOneLineWithTheReasonAndNoStack()
    {
        await _inventory.SetAsync("""{"Inventory:ErrorRate": 1}""");
        await using var shop = Shop(new() { ["InventoryClient:MaxRetries"] = "2", ["InventoryClient:CircuitBreakerEnabled"] = "false", ["InventoryClient:RetryBaseDelay"] = "00:00:00.010" });
        var logs = new Microsoft.Extensions.Logging.Testing.FakeLogCollector();
        ((Microsoft.Extensions.Logging.ILoggerFactory)shop.Services.GetService(typeof(Microsoft.Extensions.Logging.ILoggerFactory))!)
            .AddProvider(new Microsoft.Extensions.Logging.Testing.FakeLoggerProvider(logs));
        using var client = shop.CreateClient();

        await (await client.GetAsync("/products/7/availability")).ReadAsync<Availability>();

        // Three attempts failed; the operator reads one line saying why, not three stack traces.
        var loud = logs.GetSnapshot().Where(record => record.Level >= Microsoft.Extensions.Logging.LogLevel.Warning).ToList();
        var line = Assert.Single(loud);
        Assert.Contains("SKU-000007", line.Message, StringComparison.Ordinal);
        Assert.Contains("503", line.Message, StringComparison.Ordinal);
        Assert.Null(line.Exception);
    }

    [Fact]
    public async Task Availability_SlowInventory_TimesOutAndFallsBackFast()
    {
        await _inventory.SetAsync("""{"Inventory:LatencyMs": 4000}""");
        await using var shop = Shop(new() { ["InventoryClient:AttemptTimeout"] = "00:00:00.300", ["InventoryClient:MaxRetries"] = "0" });
        using var client = shop.CreateClient();

        var watch = Stopwatch.StartNew();
        var availability = await (await client.GetAsync("/products/5/availability")).ReadAsync<Availability>();

        Assert.Equal(Availability.Unknown, availability.Status);
        Assert.Null(availability.Available);
        // The inventory takes 4 s; the answer must not have waited for it.
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(3), $"took {watch.Elapsed}");
    }

    [Fact]
    public async Task Availability_FailingInventory_IsRetriedExactlyMaxRetriesTimes()
    {
        await _inventory.SetAsync("""{"Inventory:ErrorRate": 1}""");
        await using var shop = Shop(new() { ["InventoryClient:MaxRetries"] = "2", ["InventoryClient:CircuitBreakerEnabled"] = "false", ["InventoryClient:RetryBaseDelay"] = "00:00:00.010" });
        using var client = shop.CreateClient();
        var before = await _inventory.RequestsAsync("error");

        var availability = await (await client.GetAsync("/products/6/availability")).ReadAsync<Availability>();

        Assert.Equal(Availability.Unknown, availability.Status);
        Assert.Equal(3, await _inventory.RequestsAsync("error") - before);
    }

    [Fact]
    public async Task Availability_FailingInventory_OpensTheBreakerAndStopsCalling()
    {
        await _inventory.SetAsync("""{"Inventory:ErrorRate": 1}""");
        await using var shop = Shop(new()
        {
            ["InventoryClient:MaxRetries"] = "0",
            ["InventoryClient:BreakerMinimumThroughput"] = "5",
            ["InventoryClient:BreakerFailureRatio"] = "0.5",
            ["InventoryClient:BreakerBreakDuration"] = "00:01:00",
        });
        using var client = shop.CreateClient();
        var before = await _inventory.RequestsAsync("error");

        for (var i = 0; i < 20; i++)
        {
            var availability = await (await client.GetAsync("/products/7/availability")).ReadAsync<Availability>();
            Assert.Equal(Availability.Unknown, availability.Status);
        }

        // Five failures open the breaker; the other fifteen never leave the shop.
        Assert.Equal(5, await _inventory.RequestsAsync("error") - before);
    }

    [Fact]
    public async Task Availability_FallbackOff_Answers503Problem()
    {
        await _inventory.SetAsync("""{"Inventory:ErrorRate": 1}""");
        await using var shop = Shop(new() { ["InventoryClient:FallbackEnabled"] = "false", ["InventoryClient:MaxRetries"] = "0" });
        using var client = shop.CreateClient();

        await (await client.GetAsync("/products/8/availability")).AssertProblemAsync(HttpStatusCode.ServiceUnavailable);
    }

    [Fact]
    public async Task Availability_BulkheadFull_RejectsTheExcessWithoutCallingInventory()
    {
        await _inventory.SetAsync("""{"Inventory:LatencyMs": 1500}""");
        await using var shop = Shop(new()
        {
            ["InventoryClient:MaxConcurrentCalls"] = "2",
            ["InventoryClient:BulkheadQueueLimit"] = "0",
            ["InventoryClient:MaxRetries"] = "0",
            ["InventoryClient:AttemptTimeout"] = "00:00:10",
            ["InventoryClient:TotalTimeout"] = "00:00:10",
        });
        using var client = shop.CreateClient();
        var before = await _inventory.RequestsAsync("ok");

        var answers = await Task.WhenAll(Enumerable.Range(0, 6).Select(async _ =>
            await (await client.GetAsync("/products/9/availability")).ReadAsync<Availability>()));

        Assert.Equal(2, answers.Count(answer => answer.Status == Availability.Known));
        Assert.Equal(4, answers.Count(answer => answer.Status == Availability.Unknown));
        Assert.Equal(2, await _inventory.RequestsAsync("ok") - before);
    }

    [Fact]
    public async Task PlaceOrder_ReservesStockAtInventory()
    {
        await using var shop = Shop(new() { ["Orders:ReserveInventory"] = "true" });
        using var client = shop.CreateClient();

        await (await client.PostJsonAsync("/orders", """{"customerId": 1, "lines": [{"productId": 12, "quantity": 4}]}""")).ReadAsync<Firedrill.Shop.Features.Orders.Order>(HttpStatusCode.Created);

        var level = await (await _inventory.Client.GetAsync("/inventory/SKU-000012")).ReadAsync<InventoryLevelDto>();
        Assert.Equal(1_000_000 - 4, level.Available);
    }

    [Fact]
    public async Task PlaceOrder_InventoryDown_Answers503AndWritesNothing()
    {
        await _inventory.SetAsync("""{"Inventory:ErrorRate": 1}""");
        await using var shop = Shop(new() { ["Orders:ReserveInventory"] = "true", ["InventoryClient:MaxRetries"] = "0" });
        using var client = shop.CreateClient();

        await (await client.PostJsonAsync("/orders", """{"customerId": 1, "lines": [{"productId": 13, "quantity": 1}]}""")).AssertProblemAsync(HttpStatusCode.ServiceUnavailable);

        Assert.Equal(0, await _database.ScalarAsync<long>("SELECT count(*) FROM orders"));
    }

    [Fact]
    public async Task PlaceOrder_ShopStockShort_GivesTheReservationBack()
    {
        await using var shop = Shop(new() { ["Orders:ReserveInventory"] = "true" });
        using var client = shop.CreateClient();
        await _database.ExecuteAsync("UPDATE products SET stock = 1 WHERE id = 14");

        await (await client.PostJsonAsync("/orders", """{"customerId": 1, "lines": [{"productId": 14, "quantity": 2}]}""")).AssertProblemAsync(HttpStatusCode.Conflict);

        var level = await (await _inventory.Client.GetAsync("/inventory/SKU-000014")).ReadAsync<InventoryLevelDto>();
        Assert.Equal(1_000_000, level.Available);
    }

    private ShopInstance Shop(Dictionary<string, string?>? settings = null)
    {
        settings ??= [];
        settings["InventoryClient:BaseAddress"] = _inventory.Address.ToString();
        return new ShopInstance(_database.ConnectionString, settings);
    }

    private sealed record InventoryLevelDto(string Sku, int Available);

    public async Task DisposeAsync()
    {
        await _inventory.DisposeAsync();
        await _database.DisposeAsync();
    }
}
