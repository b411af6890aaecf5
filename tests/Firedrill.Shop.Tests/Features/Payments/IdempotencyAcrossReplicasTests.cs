using System.Net;
using Firedrill.Shop.Features.Orders;
using Firedrill.Shop.Tests.Support;

namespace Firedrill.Shop.Tests.Features.Payments;

/// <summary>Two shops on one database: the key is enforced by PostgreSQL, not by either process.</summary>
public sealed class IdempotencyAcrossReplicasTests : IAsyncLifetime
{
    private TestDatabase _database = null!;
    private ShopInstance[] _replicas = [];

    public async Task InitializeAsync()
    {
        _database = await Engines.CreateDatabaseAsync();
        // Started together on an empty database: migrations and seeding must not race.
        _replicas = await Task.WhenAll(Enumerable.Range(0, 2).Select(_ => Task.Run(() => new ShopInstance(_database.ConnectionString))));
    }

    [Fact]
    public async Task Pay_OneKeyOnBothReplicasConcurrently_WritesOnePayment()
    {
        var clients = _replicas.Select(replica => replica.CreateClient()).ToArray();
        var order = await (await clients[0].PostJsonAsync("/orders", """{"customerId": 3, "lines": [{"productId": 8, "quantity": 1}]}""")).ReadAsync<Order>(HttpStatusCode.Created);
        var key = PaymentsEndpointsTests.NewKey();
        var json = $$"""{"orderId": {{order.Id}}, "amount": 8.5, "currency": "EUR"}""";

        var responses = await Task.WhenAll(Enumerable.Range(0, 10).Select(i => PaymentsEndpointsTests.Pay(clients[i % 2], key, json)));
        var later = await PaymentsEndpointsTests.Pay(clients[1], key, json);

        Assert.Equal(1, await _database.ScalarAsync<long>($"SELECT count(*) FROM payments WHERE order_id = {order.Id}"));
        Assert.All(responses, response => Assert.Contains(response.StatusCode, new[] { HttpStatusCode.Created, HttpStatusCode.Conflict }));
        Assert.Equal(HttpStatusCode.Created, later.StatusCode);
        Assert.Equal(1, await _database.ScalarAsync<long>("SELECT count(*) FROM customers WHERE id = 100") );
        Assert.Equal(1000, await _database.ScalarAsync<long>("SELECT count(*) FROM products"));
    }

    [Fact]
    public async Task Pay_IdempotencyDisabled_ChargesEveryRetry()
    {
        // The duplicate-payments incident's broken path, switched on for one replica through its settings.
        await using var broken = new ShopInstance(_database.ConnectionString, new Dictionary<string, string?> { ["Payments:IdempotencyEnabled"] = "false" });
        using var client = broken.CreateClient();
        var order = await (await client.PostJsonAsync("/orders", """{"customerId": 5, "lines": [{"productId": 9, "quantity": 1}]}""")).ReadAsync<Order>(HttpStatusCode.Created);
        var key = PaymentsEndpointsTests.NewKey();
        var json = $$"""{"orderId": {{order.Id}}, "amount": 9, "currency": "EUR"}""";

        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(HttpStatusCode.Created, (await PaymentsEndpointsTests.Pay(client, key, json)).StatusCode);
        }

        Assert.Equal(3, await _database.ScalarAsync<long>($"SELECT count(*) FROM payments WHERE order_id = {order.Id}"));
    }

    public async Task DisposeAsync()
    {
        foreach (var replica in _replicas)
        {
            await replica.DisposeAsync();
        }

        await _database.DisposeAsync();
    }
}
