using System.Diagnostics.Metrics;
using System.Net;
using Firedrill.Shop.Features.Orders;
using Firedrill.Shop.Features.Payments;
using Firedrill.Shop.Observability;
using Firedrill.Shop.Tests.Features.Payments;
using Firedrill.Shop.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace Firedrill.Shop.Tests.Features.Messaging;

/// <summary>The ledger group as the consumer-lag incident sees it: joining a new topic, members per replica, the events' key.</summary>
public sealed class LedgerConsumerGroupTests : IAsyncLifetime
{
    private TestDatabase _database = null!;

    public async Task InitializeAsync() => _database = await Engines.CreateDatabaseAsync();

    [Fact]
    public async Task Start_TopicDoesNotExistYet_JoinsWithoutFailingAndAppliesPayments()
    {
        var logs = new FakeLogCollector();
        await using var shop = new ShopInstance(_database.ConnectionString, new Dictionary<string, string?>
        {
            // A topic no test has used: the consumer's start creates it.
            ["Kafka:PaymentsTopic"] = $"payments.fresh.{Guid.NewGuid():N}",
        });
        shop.Services.GetRequiredService<ILoggerFactory>().AddProvider(new FakeLoggerProvider(logs));
        using var client = shop.CreateClient();

        var payment = await PayAsync(client);

        Assert.True(await Poll.UntilAsync(async () => await _database.ScalarAsync<long>($"SELECT count(*) FROM ledger WHERE payment_id = {payment.Id}") == 1,
            TimeSpan.FromSeconds(45)), "the payment never reached the ledger");
        Assert.DoesNotContain(logs.GetSnapshot(), record => record.Id.Id == 5022);
    }

    [Fact]
    public async Task Start_MoreConsumersThanPartitions_LeavesTheExtraOnesWithoutPartitions()
    {
        await using var shop = new ShopInstance(_database.ConnectionString, new Dictionary<string, string?> { ["Kafka:ConsumersPerReplica"] = "6" });
        using var assigned = new MetricCollector<int>(shop.Services.GetRequiredService<IMeterFactory>(), ShopMetrics.MeterName,
            "firedrill.kafka.consumer.assigned.partitions");

        // Four partitions, six members: every partition owned once, two members with none.
        Assert.True(await Poll.UntilAsync(() =>
        {
            assigned.RecordObservableInstruments();
            var latest = Latest(assigned);
            return Task.FromResult(latest.Count == 6 && latest.Values.Sum() == 4 && latest.Values.Count(n => n == 0) == 2);
        }, TimeSpan.FromSeconds(45)), $"assignment per consumer: {string.Join(", ", Latest(assigned).Select(c => $"{c.Key}={c.Value}"))}");
    }

    [Fact]
    public async Task Pay_KeyedByCurrency_PublishesEveryEventToOnePartition()
    {
        await using var shop = new ShopInstance(_database.ConnectionString, new Dictionary<string, string?> { ["Kafka:PaymentsKey"] = "Currency" });
        using var published = new MetricCollector<long>(shop.Services.GetRequiredService<IMeterFactory>(), ShopMetrics.MeterName, "firedrill.outbox.published");
        using var client = shop.CreateClient();

        for (var i = 0; i < 8; i++)
        {
            await PayAsync(client);
        }

        Assert.True(await Poll.UntilAsync(() => Task.FromResult(published.GetMeasurementSnapshot().Sum(m => m.Value) == 8), TimeSpan.FromSeconds(30)),
            "the relay did not publish the 8 events");
        Assert.Single(published.GetMeasurementSnapshot().Select(m => m.Tags["partition"]).Distinct());
    }

    [Fact]
    public async Task Pay_KeyedByOrder_SpreadsEventsOverPartitions()
    {
        await using var shop = new ShopInstance(_database.ConnectionString);
        using var published = new MetricCollector<long>(shop.Services.GetRequiredService<IMeterFactory>(), ShopMetrics.MeterName, "firedrill.outbox.published");
        using var client = shop.CreateClient();

        for (var i = 0; i < 16; i++)
        {
            await PayAsync(client);
        }

        Assert.True(await Poll.UntilAsync(() => Task.FromResult(published.GetMeasurementSnapshot().Sum(m => m.Value) == 16), TimeSpan.FromSeconds(30)),
            "the relay did not publish the 16 events");
        Assert.True(published.GetMeasurementSnapshot().Select(m => m.Tags["partition"]).Distinct().Count() > 1, "sixteen orders all landed on one partition");
    }

    private static Dictionary<object, int> Latest(MetricCollector<int> collector) =>
        collector.GetMeasurementSnapshot().GroupBy(m => m.Tags["consumer"]!).ToDictionary(g => g.Key, g => g.Last().Value);

    private static async Task<Payment> PayAsync(HttpClient client)
    {
        var order = await (await client.PostJsonAsync("/orders", """{"customerId": 1, "lines": [{"productId": 1, "quantity": 1}]}""")).ReadAsync<Order>(HttpStatusCode.Created);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/payments")
        {
            Content = new StringContent(PaymentsEndpointsTests.Body(order), System.Text.Encoding.UTF8, "application/json"),
        };
        request.Headers.Add(PaymentsEndpoints.IdempotencyKeyHeader, Guid.NewGuid().ToString());
        return await (await client.SendAsync(request)).ReadAsync<Payment>(HttpStatusCode.Created);
    }

    public async Task DisposeAsync() => await _database.DisposeAsync();
}
