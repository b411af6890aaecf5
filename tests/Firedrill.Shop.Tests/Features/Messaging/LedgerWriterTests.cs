using Firedrill.Shop.Features.Messaging;
using Firedrill.Shop.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Firedrill.Shop.Tests.Features.Messaging;

public sealed class LedgerWriterTests : IAsyncLifetime
{
    private TestDatabase _database = null!;
    private ShopInstance _shop = null!;
    private LedgerWriter _ledger = null!;

    public async Task InitializeAsync()
    {
        _database = await Engines.CreateDatabaseAsync();
        // The writer alone: no consumer or relay racing the test for the tables.
        _shop = new ShopInstance(_database.ConnectionString, new Dictionary<string, string?>
        {
            ["Kafka:ConsumerEnabled"] = "false",
            ["Kafka:RelayEnabled"] = "false",
        }, realServer: false);
        _ledger = _shop.Services.GetRequiredService<LedgerWriter>();
    }

    [Fact]
    public async Task ApplyAsync_SameEventTwiceInOneBatch_WritesOneRowAndReportsItFirstOnce()
    {
        var fresh = await _ledger.ApplyAsync([Event(1), Event(1), Event(2)], CancellationToken.None);

        Assert.Equal(["payment-accepted-1", "payment-accepted-2"], fresh.Order(StringComparer.Ordinal));
        Assert.Equal(2, await _database.ScalarAsync<long>("SELECT count(*) FROM ledger"));
    }

    [Fact]
    public async Task ApplyAsync_BatchWithEventsAppliedBefore_WritesOnlyTheNewOnes()
    {
        await _ledger.ApplyAsync([Event(1), Event(2)], CancellationToken.None);

        var fresh = await _ledger.ApplyAsync([Event(2), Event(3), Event(1)], CancellationToken.None);

        Assert.Equal(["payment-accepted-3"], fresh);
        Assert.Equal(3, await _database.ScalarAsync<long>("SELECT count(*) FROM ledger"));
        Assert.Equal(1, await _database.ScalarAsync<long>("SELECT count(*) FROM ledger WHERE event_id = 'payment-accepted-3' AND payment_id = 3 AND order_id = 30 AND amount = 12.34 AND currency = 'USD'"));
    }

    [Fact]
    public async Task ApplyAsync_EmptyBatch_WritesNothing()
    {
        Assert.Empty(await _ledger.ApplyAsync([], CancellationToken.None));
        Assert.Equal(0, await _database.ScalarAsync<long>("SELECT count(*) FROM processed_events"));
    }

    private static PaymentAccepted Event(long paymentId) =>
        new(PaymentAccepted.IdFor(paymentId), paymentId, OrderId: paymentId * 10, Amount: 12.34m, Currency: "USD", OccurredAt: DateTime.UtcNow);

    public async Task DisposeAsync()
    {
        await _shop.DisposeAsync();
        await _database.DisposeAsync();
    }
}
