using System.Net;
using Firedrill.Shop.Features.Inventory;
using Firedrill.Shop.Features.Orders;
using Firedrill.Shop.Tests.Support;

namespace Firedrill.Shop.Tests.Features.Inventory;

/// <summary>
/// The inventory client's guards as the breaker-cascade incident breaks them: where the attempt
/// timeout sits, the retry budget, one pool or a pool per operation, the fallback's cost. Against a
/// real inventory process whose knobs the tests turn, counting calls where they land: at inventory.
/// </summary>
public sealed class InventoryGuardsTests : IAsyncLifetime
{
    private TestDatabase _database = null!;
    private InventoryProcess _inventory = null!;

    public async Task InitializeAsync()
    {
        _database = await Engines.CreateDatabaseAsync();
        _inventory = await InventoryProcess.StartAsync();
    }

    [Theory]
    [InlineData("OutsideBreaker", 20, 20)]
    [InlineData("InsideBreaker", 5, 8)]
    public async Task Availability_HungInventory_TheBreakerOpensOnlyWithTheTimeoutInside(string placement, int fewestCalls, int mostCalls)
    {
        await _inventory.SetAsync("""{"Inventory:LatencyMs": 3000}""");
        await using var shop = Shop(new()
        {
            ["InventoryClient:AttemptTimeoutPlacement"] = placement,
            ["InventoryClient:AttemptTimeout"] = "00:00:00.150",
            ["InventoryClient:MaxRetries"] = "0",
            ["InventoryClient:BreakerMinimumThroughput"] = "5",
            ["InventoryClient:BreakerBreakDuration"] = "00:01:00",
        });
        using var client = shop.CreateClient();
        var before = await CallsAsync();

        for (var i = 0; i < 20; i++)
        {
            Assert.Equal(Availability.Unknown, (await (await client.GetAsync("/products/5/availability")).ReadAsync<Availability>()).Status);
        }

        // Outside: every one of the 20 reaches the hung inventory. Inside: five failures open the breaker.
        Assert.InRange(await CallsAfterAsync(before, expected: fewestCalls), fewestCalls, mostCalls);
    }

    [Fact]
    public async Task Availability_FailingInventory_TheRetryBudgetStopsRetrying()
    {
        await _inventory.SetAsync("""{"Inventory:ErrorRate": 1}""");
        var settings = new Dictionary<string, string?>
        {
            ["InventoryClient:MaxRetries"] = "2",
            ["InventoryClient:RetryBaseDelay"] = "00:00:00.001",
            ["InventoryClient:CircuitBreakerEnabled"] = "false",
            ["InventoryClient:RetryBudgetReserve"] = "2",
        };
        await using var budgeted = Shop(new(settings));
        await using var unbudgeted = Shop(new(settings) { ["InventoryClient:RetryBudgetRatio"] = "0" });

        var withBudget = await CallsForAsync(budgeted, requests: 10);
        var withoutBudget = await CallsForAsync(unbudgeted, requests: 10);

        Assert.Equal(30, withoutBudget);
        // A reserve of two retries, then 0.1 of one per call: the first request's two retries, then one call per request.
        Assert.InRange(withBudget, 10, 13);
    }

    [Fact]
    public async Task Availability_WhileReservationsAreSlow_WaitsForAConnectionOnlyWithASharedPool()
    {
        var (shared, _) = await ReadWhileReservationsAreSlowAsync(shared: true);
        var (separate, status) = await ReadWhileReservationsAreSlowAsync(shared: false);

        // Reservations take 3 s: the shared pool's read waited for one of their connections.
        Assert.True(shared > TimeSpan.FromSeconds(2), $"the read on the shared pool took {shared.TotalMilliseconds} ms");
        Assert.True(separate < TimeSpan.FromSeconds(1), $"the read on its own pool took {separate.TotalMilliseconds} ms");
        Assert.Equal(Availability.Known, status);
    }

    private async Task<(TimeSpan Elapsed, string Status)> ReadWhileReservationsAreSlowAsync(bool shared)
    {
        await _inventory.SetAsync("""{"Inventory:LatencyMs": 3000, "Inventory:LatencyScope": "Reservations"}""");
        await using var shop = Shop(new()
        {
            ["Orders:ReserveInventory"] = "true",
            ["InventoryClient:SharedConnectionPool"] = shared.ToString(),
            ["InventoryClient:MaxConnections"] = "2",
            ["InventoryClient:MaxRetries"] = "0",
            // Longer than a reservation takes: each holds its connection for the whole 3 s.
            ["InventoryClient:AttemptTimeout"] = "00:00:03.500",
            ["InventoryClient:TotalTimeout"] = "00:00:10",
            ["InventoryClient:CircuitBreakerEnabled"] = "false",
        });
        using var client = shop.CreateClient();
        await (await client.GetAsync("/products/6/availability")).ReadAsync<Availability>(); // the product is cached
        // Two reservations on the two connections, two more waiting for them.

        var orders = Enumerable.Range(0, 4).Select(i => client.PostJsonAsync("/orders", $$"""{"customerId": 1, "lines": [{"productId": {{20 + i}}, "quantity": 1}]}""")).ToList();
        Assert.True(await Poll.UntilAsync(async () => await ReservationsAtInventoryAsync() >= 2, TimeSpan.FromSeconds(10)), "the reservations never reached inventory");
        await Task.Delay(500); // the other two have reached the pool by now, and wait for its connections
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var availability = await (await client.GetAsync("/products/6/availability")).ReadAsync<Availability>();
        var elapsed = watch.Elapsed;
        await Task.WhenAll(orders);
        return (elapsed, availability.Status);
    }

    [Theory]
    [InlineData("SalesTrendEstimate", Availability.Estimated)]
    [InlineData("Unknown", Availability.Unknown)]
    public async Task Availability_FailingInventory_AnswersTheConfiguredFallback(string fallback, string status)
    {
        await _inventory.SetAsync("""{"Inventory:ErrorRate": 1}""");
        await using var shop = Shop(new() { ["InventoryClient:Fallback"] = fallback, ["InventoryClient:MaxRetries"] = "0" });
        using var client = shop.CreateClient();
        await (await client.PostJsonAsync("/orders", """{"customerId": 1, "lines": [{"productId": 9, "quantity": 3}]}""")).ReadAsync<Order>(HttpStatusCode.Created);

        var availability = await (await client.GetAsync("/products/9/availability")).ReadAsync<Availability>();

        Assert.Equal(status, availability.Status);
        if (status == Availability.Estimated)
        {
            // The shop's own count less a week's share of the year's sales (3 units): 1,000,000 - 3 - 1.
            Assert.Equal(await _database.ScalarAsync<int>("SELECT stock FROM products WHERE id = 9") - 1, availability.Available);
        }
    }

    /// <summary>Requests inventory is serving right now (its own in-flight gauge).</summary>
    private async Task<double> ReservationsAtInventoryAsync()
    {
        var metrics = await _inventory.Client.GetStringAsync("/metrics");
        return metrics.Split('\n').Where(line => line.StartsWith("firedrill_inventory_in_flight", StringComparison.Ordinal))
            .Sum(line => double.Parse(line[(line.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture));
    }

    private async Task<double> CallsForAsync(ShopInstance shop, int requests)
    {
        using var client = shop.CreateClient();
        var before = await CallsAsync();
        for (var i = 0; i < requests; i++)
        {
            await (await client.GetAsync("/products/7/availability")).ReadAsync<Availability>();
        }

        return await CallsAfterAsync(before, expected: requests);
    }

    /// <summary>Every call inventory finished, whatever came of it: served, failed, refused or abandoned by the caller.</summary>
    private async Task<double> CallsAsync() =>
        await _inventory.RequestsAsync("ok") + await _inventory.RequestsAsync("error") + await _inventory.RequestsAsync("rejected") + await _inventory.RequestsAsync("aborted");

    /// <summary>Calls since <paramref name="before"/>, once those still finishing at inventory (an abandoned call ends a moment later) are counted.</summary>
    private async Task<double> CallsAfterAsync(double before, int expected)
    {
        await Poll.UntilAsync(async () => await CallsAsync() - before >= expected, TimeSpan.FromSeconds(5));
        return await CallsAsync() - before;
    }

    private ShopInstance Shop(Dictionary<string, string?> settings)
    {
        settings["InventoryClient:BaseAddress"] = _inventory.Address.ToString();
        return new ShopInstance(_database.ConnectionString, settings);
    }

    public async Task DisposeAsync()
    {
        await _inventory.DisposeAsync();
        await _database.DisposeAsync();
    }
}
