using System.Diagnostics.Metrics;

namespace Firedrill.Shop.Observability;

/// <summary>The shop's own signals, exported with the framework's on <c>/metrics</c>.</summary>
internal sealed class ShopMetrics
{
    public const string MeterName = "Firedrill.Shop";

    private readonly Counter<long> _cacheRequests;
    private readonly Counter<long> _idempotency;
    private readonly Counter<long> _inventoryFallbacks;
    private readonly Counter<long> _cacheInvalidations;
    private readonly Counter<long> _priceChanges;
    private readonly Counter<long> _paymentsWritten;
    private readonly Histogram<double> _connectionWait;

    public ShopMetrics(IMeterFactory meters)
    {
        var meter = meters.Create(MeterName);
        _cacheRequests = meter.CreateCounter<long>("firedrill.cache.requests", "{request}", "Product cache look-ups by result (hit or miss).");
        _inventoryFallbacks = meter.CreateCounter<long>("firedrill.inventory.fallbacks", "{answer}", "Availability answers degraded to \"unknown\" because inventory failed, by failure.");
        _idempotency = meter.CreateCounter<long>("firedrill.payments.idempotency", "{request}", "Payment requests by idempotency outcome.");
        _cacheInvalidations = meter.CreateCounter<long>("firedrill.cache.invalidations", "{key}",
            "Product keys invalidated across replicas: published by this replica after a write, or received from another and evicted from its memory.");
        _priceChanges = meter.CreateCounter<long>("firedrill.catalog.price_changes", "{product}", "Products repriced, by write path (single update or bulk import).");
        _paymentsWritten = meter.CreateCounter<long>("firedrill.payments.written", "{payment}",
            "Payments committed, by charge: first for its order, or duplicate (the order was already paid when it was written).");
        // Npgsql 10 reports pool usage and pending requests but not how long a request waited for
        // a connection: measured here, around the pool, by outcome (acquired or timeout).
        _connectionWait = meter.CreateHistogram("firedrill.db.connection.wait_time", "s",
            "Time to get a connection from the pool (opening one when the pool grows), by outcome.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] });
    }

    public void ConnectionWait(TimeSpan waited, bool acquired) =>
        _connectionWait.Record(waited.TotalSeconds, new KeyValuePair<string, object?>("outcome", acquired ? "acquired" : "timeout"));

    public void CacheLookup(bool hit) =>
        _cacheRequests.Add(1, new KeyValuePair<string, object?>("result", hit ? "hit" : "miss"));

    public void CacheInvalidationsPublished(int keys) =>
        _cacheInvalidations.Add(keys, new KeyValuePair<string, object?>("direction", "published"));

    public void CacheInvalidationsReceived(int keys) =>
        _cacheInvalidations.Add(keys, new KeyValuePair<string, object?>("direction", "received"));

    public void PriceChanges(int products, string path) =>
        _priceChanges.Add(products, new KeyValuePair<string, object?>("path", path));

    public void InventoryFallback(string failure) =>
        _inventoryFallbacks.Add(1, new KeyValuePair<string, object?>("failure", failure));

    public void PaymentWritten(bool duplicate) =>
        _paymentsWritten.Add(1, new KeyValuePair<string, object?>("charge", duplicate ? "duplicate" : "first"));

    public void Idempotency(IdempotencyOutcome outcome) =>
        _idempotency.Add(1, new KeyValuePair<string, object?>("outcome", outcome switch
        {
            IdempotencyOutcome.Created => "created",
            IdempotencyOutcome.Replayed => "replayed",
            IdempotencyOutcome.InFlight => "conflict",
            IdempotencyOutcome.Mismatch => "mismatch",
            _ => "unknown",
        }));
}

internal enum IdempotencyOutcome
{
    Created,
    Replayed,
    InFlight,
    Mismatch,
}
