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
        var json = PaymentsEndpointsTests.Body(order);

        var responses = await Task.WhenAll(Enumerable.Range(0, 10).Select(i => PaymentsEndpointsTests.Pay(clients[i % 2], key, json)));
        var later = await PaymentsEndpointsTests.Pay(clients[1], key, json);

        Assert.Equal(1, await _database.ScalarAsync<long>($"SELECT count(*) FROM payments WHERE order_id = {order.Id}"));
        Assert.All(responses, response => Assert.Contains(response.StatusCode, new[] { HttpStatusCode.Created, HttpStatusCode.Conflict }));
        Assert.Equal(HttpStatusCode.Created, later.StatusCode);
        Assert.Equal(1, await _database.ScalarAsync<long>("SELECT count(*) FROM customers WHERE id = 100") );
        Assert.Equal(1000, await _database.ScalarAsync<long>("SELECT count(*) FROM products"));
    }

    [Fact]
    public async Task Pay_IdempotencyDisabled_TheOrderStillRefusesTheRetries()
    {
        // One defence off: the key is ignored, but the order accepts one payment.
        await using var broken = new ShopInstance(_database.ConnectionString, new Dictionary<string, string?> { ["Payments:IdempotencyEnabled"] = "false" });
        using var client = broken.CreateClient();
        var order = await (await client.PostJsonAsync("/orders", """{"customerId": 5, "lines": [{"productId": 9, "quantity": 1}]}""")).ReadAsync<Order>(HttpStatusCode.Created);
        var key = PaymentsEndpointsTests.NewKey();
        var json = PaymentsEndpointsTests.Body(order);

        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 3; i++)
        {
            statuses.Add((await PaymentsEndpointsTests.Pay(client, key, json)).StatusCode);
        }

        Assert.Equal([HttpStatusCode.Created, HttpStatusCode.Conflict, HttpStatusCode.Conflict], statuses);
        Assert.Equal(1, await _database.ScalarAsync<long>($"SELECT count(*) FROM payments WHERE order_id = {order.Id}"));
    }

    [Fact]
    public async Task Pay_BothDefencesMissing_ChargesEveryRetry()
    {
        // The duplicate-payments incident's broken shop: the key ignored, the order check off and its
        // unique index absent (dropped here, recreated after, as the incident's fix does).
        await _database.ExecuteAsync("DROP INDEX payments_one_accepted_per_order");
        try
        {
            await using var broken = new ShopInstance(_database.ConnectionString, new Dictionary<string, string?>
            {
                ["Payments:IdempotencyEnabled"] = "false",
                ["Payments:OnePaymentPerOrder"] = "false",
            });
            using var client = broken.CreateClient();
            var order = await (await client.PostJsonAsync("/orders", """{"customerId": 6, "lines": [{"productId": 10, "quantity": 1}]}""")).ReadAsync<Order>(HttpStatusCode.Created);
            var key = PaymentsEndpointsTests.NewKey();

            for (var i = 0; i < 3; i++)
            {
                Assert.Equal(HttpStatusCode.Created, (await PaymentsEndpointsTests.Pay(client, key, PaymentsEndpointsTests.Body(order))).StatusCode);
            }

            Assert.Equal(3, await _database.ScalarAsync<long>($"SELECT count(*) FROM payments WHERE order_id = {order.Id}"));
        }
        finally
        {
            await _database.ExecuteAsync("""
                UPDATE payments p SET status = 'refunded'
                WHERE status = 'accepted' AND id > (SELECT min(id) FROM payments f WHERE f.order_id = p.order_id AND f.status = 'accepted');
                CREATE UNIQUE INDEX payments_one_accepted_per_order ON payments (order_id) WHERE status = 'accepted';
                """);
        }
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
