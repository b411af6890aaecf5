using System.Globalization;
using System.Text;
using System.Text.Json;
using Confluent.Kafka;
using Firedrill.Shop.Features.Messaging;
using Firedrill.Shop.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Firedrill.Shop.Tests.Features.Messaging;

public sealed class LedgerConsumerTests : IAsyncLifetime
{
    private readonly string _token = ServiceHost.NewToken();
    private TestDatabase _database = null!;
    private ShopInstance _shop = null!;
    private HttpClient _client = null!;
    private IProducer<string, string> _producer = null!;
    private string _topic = null!;

    public async Task InitializeAsync()
    {
        _database = await Engines.CreateDatabaseAsync();
        _topic = $"payments.{_database.Name}";
        _shop = new ShopInstance(_database.ConnectionString, new Dictionary<string, string?> { ["Lab:Enabled"] = "true", ["Lab:Token"] = _token });
        _client = _shop.CreateClient();
        _producer = new ProducerBuilder<string, string>(new ProducerConfig { BootstrapServers = KafkaMock.BootstrapServers }).Build();
    }

    [Fact]
    public async Task Consume_SameEventDeliveredTwice_IsAppliedOnce()
    {
        var duplicate = Event(paymentId: 9001);
        var sentinel = Event(paymentId: 9002);

        // One key, one partition: the sentinel is consumed after both copies.
        await ProduceAsync(duplicate, key: "17");
        await ProduceAsync(duplicate, key: "17");
        await ProduceAsync(sentinel, key: "17");

        Assert.True(await Poll.UntilAsync(async () => await LedgerRowsAsync(sentinel.EventId) == 1, TimeSpan.FromSeconds(45)), "the sentinel event was never applied");
        Assert.Equal(1, await LedgerRowsAsync(duplicate.EventId));
        Assert.Equal(2, await _database.ScalarAsync<long>("SELECT count(*) FROM processed_events"));
    }

    [Fact]
    public async Task Lag_ConsumerStopped_RisesThenFallsToZeroWhenItResumes()
    {
        // Let the group join and commit once, so lag is measured from a committed position.
        var warmUp = Event(paymentId: 1);
        await ProduceAsync(warmUp, key: "1");
        Assert.True(await Poll.UntilAsync(async () => await LedgerRowsAsync(warmUp.EventId) == 1, TimeSpan.FromSeconds(45)), "the consumer never started");

        await LabClient.SetAsync(_client, _token, """{"Kafka:ConsumerEnabled": false}""");
        for (var i = 0; i < 40; i++)
        {
            await ProduceAsync(Event(paymentId: 100 + i), key: (i % 8).ToString(CultureInfo.InvariantCulture));
        }

        Assert.True(await Poll.UntilAsync(() => Task.FromResult(Lag.Sum(p => p.Messages) >= 40), TimeSpan.FromSeconds(20)),
            $"lag did not rise to the 40 unconsumed events: {string.Join(", ", Lag)}");
        Assert.True(await Poll.UntilAsync(() => Task.FromResult(Lag.Max(p => p.Seconds) > 0), TimeSpan.FromSeconds(10)),
            $"lag in seconds stayed at zero while events waited: {string.Join(", ", Lag)}");
        Assert.Contains("firedrill_kafka_consumer_lag_seconds{", await _client.GetStringAsync("/metrics"), StringComparison.Ordinal);

        await LabClient.SetAsync(_client, _token, """{"Kafka:ConsumerEnabled": true}""");

        Assert.True(await Poll.UntilAsync(() => Task.FromResult(Lag.Count > 0 && Lag.Sum(p => p.Messages) == 0), TimeSpan.FromSeconds(45)),
            $"lag did not fall back to zero after the consumer resumed: {string.Join(", ", Lag)}");
        Assert.Equal(41, await _database.ScalarAsync<long>("SELECT count(*) FROM ledger"));
    }

    /// <summary>
    /// The shop's latest lag measurement, the numbers its gauges export. Read from the host rather
    /// than /metrics: several test hosts share this process, and a metrics listener sees every
    /// host's meters of the same name.
    /// </summary>
    private IReadOnlyList<PartitionLag> Lag => _shop.Services.GetRequiredService<ConsumerLagMonitor>().Current;

    private static PaymentAccepted Event(long paymentId) =>
        new(PaymentAccepted.IdFor(paymentId), paymentId, OrderId: 1, Amount: 3.5m, Currency: "EUR", OccurredAt: DateTime.UtcNow);

    private Task<DeliveryResult<string, string>> ProduceAsync(PaymentAccepted message, string key) =>
        _producer.ProduceAsync(_topic, new Message<string, string>
        {
            Key = key,
            Value = JsonSerializer.Serialize(message, JsonSerializerOptions.Web),
            Headers = new Headers { { "event-id", Encoding.UTF8.GetBytes(message.EventId) } },
        });

    private Task<long> LedgerRowsAsync(string eventId) =>
        _database.ScalarAsync<long>($"SELECT count(*) FROM ledger WHERE event_id = '{eventId}'");

    public async Task DisposeAsync()
    {
        _producer.Dispose();
        _client.Dispose();
        await _shop.DisposeAsync();
        await _database.DisposeAsync();
    }
}
