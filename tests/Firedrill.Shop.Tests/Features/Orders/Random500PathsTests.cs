using System.Net;
using Firedrill.Shop.Features.Orders;
using Firedrill.Shop.Http;
using Firedrill.Shop.Tests.Support;

namespace Firedrill.Shop.Tests.Features.Orders;

/// <summary>The random-500s incident's code paths, each beside its correct one, on a real database (and a real inventory process).</summary>
public sealed class Random500PathsTests : IAsyncLifetime
{
    private TestDatabase _database = null!;

    public async Task InitializeAsync() => _database = await Engines.CreateDatabaseAsync();

    public async Task DisposeAsync() => await _database.DisposeAsync();

    private static async Task<Order> PlaceAsync(HttpClient client, int customer, int product) =>
        await (await client.PostJsonAsync("/orders", $$"""{"customerId": {{customer}}, "lines": [{"productId": {{product}}, "quantity": 2}]}"""))
            .ReadAsync<Order>(HttpStatusCode.Created);

    [Fact]
    public async Task GetOrder_SharedConnectionUnderConcurrency_Some500sCarryTheirTraceId()
    {
        await using var shop = new ShopInstance(_database.ConnectionString, new Dictionary<string, string?> { ["Orders:SharedConnectionReads"] = "true" });
        using var client = shop.CreateClient();
        var order = await PlaceAsync(client, 1, 1);

        // One at a time it works...
        for (var i = 0; i < 5; i++)
        {
            await (await client.GetAsync($"/orders/{order.Id}")).ReadAsync<Order>();
        }

        // ...together, lookups collide on the one connection.
        HttpResponseMessage[] responses = [];
        for (var round = 0; round < 20 && !responses.Any(r => r.StatusCode == HttpStatusCode.InternalServerError); round++)
        {
            responses = await Task.WhenAll(Enumerable.Range(0, 16).Select(_ => client.GetAsync($"/orders/{order.Id}")));
        }

        var failed = responses.First(response => response.StatusCode == HttpStatusCode.InternalServerError);
        var problem = await failed.AssertProblemAsync(HttpStatusCode.InternalServerError);
        Assert.Equal("An unexpected error occurred", problem.GetProperty("title").GetString());
        Assert.False(problem.TryGetProperty("detail", out _), "no exception text leaves the shop");
    }

    [Fact]
    public async Task GetOrder_PooledConnectionsUnderConcurrency_NeverFail()
    {
        await using var shop = new ShopInstance(_database.ConnectionString);
        using var client = shop.CreateClient();
        var order = await PlaceAsync(client, 2, 2);

        for (var round = 0; round < 5; round++)
        {
            var responses = await Task.WhenAll(Enumerable.Range(0, 16).Select(_ => client.GetAsync($"/orders/{order.Id}")));
            Assert.All(responses, response => Assert.Equal(HttpStatusCode.OK, response.StatusCode));
        }
    }

    [Fact]
    public async Task GetOrder_NaNTotal_StrictFailsTolerantAnswersTheLinesSum()
    {
        await using var strict = new ShopInstance(_database.ConnectionString, new Dictionary<string, string?> { ["Orders:ReadTotalsStrictly"] = "true" });
        using var strictClient = strict.CreateClient();
        var bad = await PlaceAsync(strictClient, 3, 3);
        var good = await PlaceAsync(strictClient, 3, 4);
        await _database.ExecuteAsync($"UPDATE orders SET total = 'NaN' WHERE id = {bad.Id}");

        await (await strictClient.GetAsync($"/orders/{bad.Id}")).AssertProblemAsync(HttpStatusCode.InternalServerError);
        await (await strictClient.GetAsync($"/orders/{good.Id}")).ReadAsync<Order>();

        await using var tolerant = new ShopInstance(_database.ConnectionString);
        using var tolerantClient = tolerant.CreateClient();
        var read = await (await tolerantClient.GetAsync($"/orders/{bad.Id}")).ReadAsync<Order>();
        Assert.Equal(bad.Total, read.Total);
        var history = await (await tolerantClient.GetAsync("/customers/3/orders")).ReadAsync<OrderPage>();
        Assert.Contains(history.Items, order => order.Id == bad.Id && order.Total == bad.Total);
    }

    [Fact]
    public async Task PlaceOrder_InventoryFails_UnguardedIs500GuardedIs503WithTheCause()
    {
        await using var inventory = await InventoryProcess.StartAsync();
        await inventory.SetAsync("""{"Inventory:ErrorRate": 1}""");
        var settings = new Dictionary<string, string?>
        {
            ["Orders:ReserveInventory"] = "true",
            ["InventoryClient:BaseAddress"] = inventory.Address.ToString(),
            ["InventoryClient:MaxRetries"] = "0",
            ["InventoryClient:CircuitBreakerEnabled"] = "false",
        };
        const string Body = """{"customerId": 5, "lines": [{"productId": 5, "quantity": 1}]}""";

        await using (var guarded = new ShopInstance(_database.ConnectionString, settings))
        {
            var problem = await (await guarded.CreateClient().PostJsonAsync("/orders", Body)).AssertProblemAsync(HttpStatusCode.ServiceUnavailable);
            Assert.Equal("Inventory unavailable", problem.GetProperty("title").GetString());
        }

        settings["Orders:UnguardedReservation"] = "true";
        await using var unguarded = new ShopInstance(_database.ConnectionString, settings);
        await (await unguarded.CreateClient().PostJsonAsync("/orders", Body)).AssertProblemAsync(HttpStatusCode.InternalServerError);
    }

    [Fact]
    public void ShopFrame_ExceptionThroughShopCode_NamesTheInnermostShopMethod()
    {
        var exception = Assert.Throws<InvalidOperationException>(() => Thrower.Throw());

        var frame = UnhandledExceptionHandler.ShopFrame(exception);

        Assert.StartsWith("Firedrill.Shop.Tests.Features.Orders.Random500PathsTests", frame, StringComparison.Ordinal);
        Assert.EndsWith("Thrower.Throw()", frame, StringComparison.Ordinal);
    }

    private static class Thrower
    {
        public static void Throw() => throw new InvalidOperationException("boom");
    }
}
