using System.Net;
using Firedrill.Shop.Features.Orders;
using Firedrill.Shop.Features.Payments;
using Firedrill.Shop.Tests.Features.Payments;
using Firedrill.Shop.Tests.Support;

namespace Firedrill.Shop.Tests.Features.Messaging;

public sealed class OutboxTests : IAsyncLifetime
{
    private readonly string _token = ServiceHost.NewToken();
    private TestDatabase _database = null!;

    public async Task InitializeAsync() => _database = await Engines.CreateDatabaseAsync();

    [Fact]
    public async Task Payment_CommittedWhileKafkaIsUnreachable_IsPublishedAndAppliedOnceItReturns()
    {
        // Nothing listens on port 1: every produce fails until the lab points the shop at a cluster.
        await using var shop = new ShopInstance(_database.ConnectionString, new Dictionary<string, string?>
        {
            ["Lab:Enabled"] = "true",
            ["Lab:Token"] = _token,
            ["Kafka:BootstrapServers"] = "127.0.0.1:1",
            ["Kafka:DeliveryTimeout"] = "00:00:02",
        });
        using var client = shop.CreateClient();
        var order = await (await client.PostJsonAsync("/orders", """{"customerId": 1, "lines": [{"productId": 1, "quantity": 1}]}""")).ReadAsync<Order>(HttpStatusCode.Created);

        var payment = await (await PaymentsEndpointsTests.Pay(client, PaymentsEndpointsTests.NewKey(), PaymentsEndpointsTests.Body(order)))
            .ReadAsync<Payment>(HttpStatusCode.Created);
        await Task.Delay(TimeSpan.FromSeconds(3)); // at least one failed relay attempt

        Assert.Equal(1, await _database.ScalarAsync<long>("SELECT count(*) FROM outbox WHERE published_at IS NULL"));
        await LabClient.SetAsync(client, _token, $$"""{"Kafka:BootstrapServers": "{{KafkaMock.BootstrapServers}}"}""");

        Assert.True(await Poll.UntilAsync(
            async () => await _database.ScalarAsync<long>($"SELECT count(*) FROM ledger WHERE payment_id = {payment.Id}") == 1,
            TimeSpan.FromSeconds(45)), "the payment never reached the ledger");
        Assert.Equal(0, await _database.ScalarAsync<long>("SELECT count(*) FROM outbox WHERE published_at IS NULL"));
    }

    public async Task DisposeAsync() => await _database.DisposeAsync();
}
