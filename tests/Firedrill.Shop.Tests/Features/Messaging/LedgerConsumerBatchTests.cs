using System.Diagnostics.Metrics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Confluent.Kafka;
using Firedrill.Shop.Features.Messaging;
using Firedrill.Shop.Tests.Features.Payments;
using Firedrill.Shop.Features.Orders;
using Firedrill.Shop.Features.Payments;
using Firedrill.Shop.Observability;
using Firedrill.Shop.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace Firedrill.Shop.Tests.Features.Messaging;

/// <summary>
/// The ledger consumer applying a backlog in batches. Each test starts its shop with the consumer
/// off, produces the backlog, and only then turns the consumer on, so that it finds the whole
/// backlog waiting, as after an outage.
/// </summary>
public sealed class LedgerConsumerBatchTests : IAsyncLifetime
{
    private readonly string _token = ServiceHost.NewToken();
    private TestDatabase _database = null!;
    private IProducer<string, string> _producer = null!;
    private string _topic = null!;

    public async Task InitializeAsync()
    {
        _database = await Engines.CreateDatabaseAsync();
        _topic = $"payments.{_database.Name}";
        _producer = new ProducerBuilder<string, string>(new ProducerConfig { BootstrapServers = KafkaMock.BootstrapServers, LingerMs = 5 }).Build();
    }

    [Fact]
    public async Task Consume_BacklogWithDefaultBatchSize_AppliesEveryEventOnceInBatches()
    {
        await using var shop = StartShop();
        using var client = shop.CreateClient();
        await ProduceAsync(Enumerable.Range(1, 2_000).Select(i => Event(paymentId: i)));

        await LabClient.SetAsync(client, _token, """{"Kafka:ConsumerEnabled": true}""");

        Assert.True(await Poll.UntilAsync(async () => await CountAsync("SELECT count(*) FROM processed_events") == 2_000, TimeSpan.FromSeconds(60)),
            $"the backlog was not applied: {await CountAsync("SELECT count(*) FROM processed_events")} of 2000 events");
        Assert.Equal(2_000, await CountAsync("SELECT count(*) FROM ledger"));
        Assert.Equal(2_000, await CountAsync("SELECT count(DISTINCT event_id) FROM ledger"));
        // A batch's rows share its transaction's timestamp: more than one row per timestamp means batches.
        Assert.True(await CountAsync("SELECT max(n) FROM (SELECT count(*) AS n FROM ledger GROUP BY applied_at) AS batches") > 1,
            "every event was applied in a transaction of its own");
    }

    [Fact]
    public async Task Consume_DuplicatesInTheBacklogAndRedeliveredLater_AreAppliedOnce()
    {
        await using var shop = StartShop();
        using var client = shop.CreateClient();
        using var applied = new MetricCollector<long>(shop.Services.GetRequiredService<IMeterFactory>(), ShopMetrics.MeterName, "firedrill.ledger.events");
        var events = Enumerable.Range(1, 300).Select(i => Event(paymentId: i)).ToList();
        // Each event twice in a row, as a relay that published twice leaves them: most pairs share a batch.
        await ProduceAsync(events.SelectMany(e => new[] { e, e }));

        await LabClient.SetAsync(client, _token, """{"Kafka:ConsumerEnabled": true}""");
        Assert.True(await Poll.UntilAsync(() => Task.FromResult(Sum(applied, "first") == 300 && Sum(applied, "redelivered") == 300), TimeSpan.FromSeconds(60)),
            $"first deliveries {Sum(applied, "first")}, redeliveries {Sum(applied, "redelivered")}; expected 300 and 300");

        // Redelivered after they were applied, with one new event.
        await ProduceAsync([.. events, Event(paymentId: 301)]);
        Assert.True(await Poll.UntilAsync(() => Task.FromResult(Sum(applied, "first") == 301 && Sum(applied, "redelivered") == 600), TimeSpan.FromSeconds(60)),
            $"first deliveries {Sum(applied, "first")}, redeliveries {Sum(applied, "redelivered")}; expected 301 and 600");
        Assert.Equal(301, await CountAsync("SELECT count(*) FROM ledger"));
        Assert.Equal(301, await CountAsync("SELECT count(DISTINCT event_id) FROM ledger"));
        Assert.Equal(301, await CountAsync("SELECT count(*) FROM processed_events"));
    }

    [Fact]
    public async Task Consume_ApplyBatchSizeOne_AppliesEachEventInATransactionOfItsOwn()
    {
        await using var shop = StartShop(new() { ["Kafka:ApplyBatchSize"] = "1" });
        using var client = shop.CreateClient();
        var events = Enumerable.Range(1, 200).Select(i => Event(paymentId: i)).ToList();
        await ProduceAsync([.. events, .. events.Take(50)]);

        await LabClient.SetAsync(client, _token, """{"Kafka:ConsumerEnabled": true}""");

        Assert.True(await Poll.UntilAsync(async () => await CountAsync("SELECT count(*) FROM processed_events") == 200, TimeSpan.FromSeconds(60)),
            $"the backlog was not applied: {await CountAsync("SELECT count(*) FROM processed_events")} of 200 events");
        Assert.Equal(200, await CountAsync("SELECT count(*) FROM ledger"));
        Assert.Equal(200, await CountAsync("SELECT count(DISTINCT applied_at) FROM ledger"));
    }

    [Fact]
    public async Task Consume_UnreadableMessagesInABatch_AreDeadLetteredWithTheReasonAndTheRestApplied()
    {
        var deadLetters = $"{_topic}.dead-letter";
        await using var shop = StartShop(new() { ["Kafka:DeadLetterTopic"] = deadLetters });
        using var client = shop.CreateClient();
        await ProduceAsync([Event(paymentId: 1)]);
        var unreadable = await ProduceRawAsync("not json");
        var refused = await ProduceRawAsync("""{"eventId": "payment-accepted-2", "currency": "EURO", "amount": 1}""");
        await ProduceAsync([Event(paymentId: 3)]);

        await LabClient.SetAsync(client, _token, """{"Kafka:ConsumerEnabled": true}""");

        Assert.True(await Poll.UntilAsync(async () => await CountAsync("SELECT count(*) FROM ledger") == 2, TimeSpan.FromSeconds(60)),
            "the readable events around the unreadable ones were not applied");
        Assert.Equal(0, await CountAsync("SELECT count(*) FROM ledger WHERE event_id = 'payment-accepted-2'"));

        // Each poison message on the dead-letter topic as it was read, saying why and where it came from.
        var letters = ReadAll(deadLetters, expected: 2);
        Assert.Equal(["not json", """{"eventId": "payment-accepted-2", "currency": "EURO", "amount": 1}"""], letters.Select(m => m.Value));
        Assert.StartsWith("unreadable:", Header(letters[0], DeadLetters.ReasonHeader), StringComparison.Ordinal);
        Assert.Equal("invalid: currency is not a three-letter code", Header(letters[1], DeadLetters.ReasonHeader));
        Assert.Equal($"{_topic}/{unreadable.Partition.Value}@{unreadable.Offset.Value}", Header(letters[0], DeadLetters.SourceHeader));
        Assert.Equal($"{_topic}/{refused.Partition.Value}@{refused.Offset.Value}", Header(letters[1], DeadLetters.SourceHeader));
    }

    [Theory]
    [InlineData("""{"eventId": "", "currency": "EUR", "amount": 1}""", "invalid: no event id")]
    [InlineData("""{"eventId": "e", "currency": "EUR", "amount": 1e13}""", "invalid: amount beyond the ledger's numeric(14, 2)")]
    [InlineData("null", "unreadable: no payment event")]
    public void Read_EventNoRetryCouldApply_SaysWhy(string value, string reason) =>
        Assert.Equal(reason, LedgerHandler.Read(value).Refused);

    [Fact]
    public async Task Consume_PaymentRequestWithTraceparent_LogsItsLedgerLineInThatTrace()
    {
        const string traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
        await using var shop = StartShop(new()
        {
            ["Kafka:ConsumerEnabled"] = "true",
            ["Logging:LogLevel:Firedrill.Shop.Features.Messaging"] = "Information",
        });
        var logs = new FakeLogCollector();
        shop.Services.GetRequiredService<ILoggerFactory>().AddProvider(new FakeLoggerProvider(logs));
        using var client = shop.CreateClient();
        var order = await (await client.PostJsonAsync("/orders", """{"customerId": 1, "lines": [{"productId": 1, "quantity": 1}]}""")).ReadAsync<Order>(HttpStatusCode.Created);

        // A client that sends the header as given: the test process's HttpClient instrumentation would start a trace of its own.
        using var traced = new HttpClient(new SocketsHttpHandler { ActivityHeadersPropagator = null }) { BaseAddress = client.BaseAddress };
        using var request = new HttpRequestMessage(HttpMethod.Post, "/payments")
        {
            Content = new StringContent(PaymentsEndpointsTests.Body(order), Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("traceparent", $"00-{traceId}-00f067aa0ba902b7-01");
        request.Headers.Add(PaymentsEndpoints.IdempotencyKeyHeader, Guid.NewGuid().ToString());
        var payment = await (await traced.SendAsync(request)).ReadAsync<Payment>(HttpStatusCode.Created);

        var line = $"Payment event {PaymentAccepted.IdFor(payment.Id)} applied to the ledger (first delivery: True)";
        Assert.True(await Poll.UntilAsync(() => Task.FromResult(logs.GetSnapshot().Any(r => r.Message == line)), TimeSpan.FromSeconds(45)),
            "the payment's ledger line was never logged");
        var record = logs.GetSnapshot().First(r => r.Message == line);
        Assert.Contains(traceId, record.Scopes.OfType<IEnumerable<KeyValuePair<string, object?>>>()
            .SelectMany(scope => scope).Where(pair => pair.Key == "TraceId").Select(pair => pair.Value?.ToString()));
    }

    /// <summary>A shop with the consumer off until the test turns it on through the lab.</summary>
    private ShopInstance StartShop(Dictionary<string, string?>? settings = null)
    {
        var merged = new Dictionary<string, string?> { ["Lab:Enabled"] = "true", ["Lab:Token"] = _token, ["Kafka:ConsumerEnabled"] = "false" };
        foreach (var (key, value) in settings ?? [])
        {
            merged[key] = value;
        }

        return new ShopInstance(_database.ConnectionString, merged);
    }

    private static long Sum(MetricCollector<long> collector, string delivery) =>
        collector.GetMeasurementSnapshot().Where(m => (string?)m.Tags["delivery"] == delivery).Sum(m => m.Value);

    private static PaymentAccepted Event(long paymentId) =>
        new(PaymentAccepted.IdFor(paymentId), paymentId, OrderId: paymentId, Amount: 3.5m, Currency: "EUR", OccurredAt: DateTime.UtcNow);

    /// <summary>Produces all at once, keyed by order as the relay does, and waits for every acknowledgement.</summary>
    private async Task ProduceAsync(IEnumerable<PaymentAccepted> events)
    {
        var deliveries = events.Select(e => _producer.ProduceAsync(_topic, new Message<string, string>
        {
            Key = e.OrderId.ToString(CultureInfo.InvariantCulture),
            Value = JsonSerializer.Serialize(e, JsonSerializerOptions.Web),
        })).ToList();
        await Task.WhenAll(deliveries);
    }

    private Task<DeliveryResult<string, string>> ProduceRawAsync(string value) =>
        _producer.ProduceAsync(_topic, new Message<string, string> { Key = "1", Value = value });

    /// <summary>A topic read from its beginning by a reader of its own (no group), until <paramref name="expected"/> messages or 30 s.</summary>
    private static List<Message<string, string>> ReadAll(string topic, int expected)
    {
        using var reader = new ConsumerBuilder<string, string>(new ConsumerConfig
        {
            BootstrapServers = KafkaMock.BootstrapServers,
            GroupId = $"reader-{Guid.NewGuid():N}",
            EnableAutoCommit = false,
        }).Build();
        reader.Assign(Enumerable.Range(0, 4).Select(p => new TopicPartitionOffset(topic, p, Offset.Beginning)));
        var messages = new List<(long Offset, Message<string, string> Message)>();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (messages.Count < expected && DateTime.UtcNow < deadline)
        {
            if (reader.Consume(TimeSpan.FromMilliseconds(200)) is { Message: not null } result)
            {
                messages.Add((result.Offset.Value, result.Message));
            }
        }

        return [.. messages.OrderBy(m => m.Offset).Select(m => m.Message)];
    }

    private static string Header(Message<string, string> message, string name) =>
        message.Headers.TryGetLastBytes(name, out var bytes) ? Encoding.UTF8.GetString(bytes) : "";

    private async Task<long> CountAsync(string sql) => await _database.ScalarAsync<long>(sql);

    public async Task DisposeAsync()
    {
        _producer.Dispose();
        await _database.DisposeAsync();
    }
}
