using System.Diagnostics.Metrics;

namespace Firedrill.Shop.Observability;

/// <summary>The shop's own signals, exported with the framework's on <c>/metrics</c>.</summary>
internal sealed class ShopMetrics
{
    public const string MeterName = "Firedrill.Shop";

    private readonly Counter<long> _cacheRequests;
    private readonly Counter<long> _idempotency;
    private readonly Counter<long> _inventoryFallbacks;

    public ShopMetrics(IMeterFactory meters)
    {
        var meter = meters.Create(MeterName);
        _cacheRequests = meter.CreateCounter<long>("firedrill.cache.requests", "{request}", "Product cache look-ups by result (hit or miss).");
        _inventoryFallbacks = meter.CreateCounter<long>("firedrill.inventory.fallbacks", "{answer}", "Availability answers degraded to \"unknown\" because inventory failed, by failure.");
        _idempotency = meter.CreateCounter<long>("firedrill.payments.idempotency", "{request}", "Payment requests by idempotency outcome.");
    }

    public void CacheLookup(bool hit) =>
        _cacheRequests.Add(1, new KeyValuePair<string, object?>("result", hit ? "hit" : "miss"));

    public void InventoryFallback(string failure) =>
        _inventoryFallbacks.Add(1, new KeyValuePair<string, object?>("failure", failure));

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
