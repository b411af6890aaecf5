namespace Firedrill.Shop.Features.Inventory;

/// <summary>What the shop can say about a product's stock at the inventory service.</summary>
public sealed record Availability(long ProductId, string Sku, int? Available, string Status)
{
    public const string Known = "known";
    public const string Unknown = "unknown";
}

internal sealed record InventoryLevel(string Sku, int Available);

internal sealed record ReservationLine(string Sku, int Quantity);

internal sealed record ReservationRequest(string OrderRef, IReadOnlyList<ReservationLine> Lines);

internal sealed record SyncRequest(DateTime Window, string Replica, int Checked, int Differ);

internal enum ReservationResult
{
    Reserved,
    InsufficientStock,
    UnknownSku,
}

/// <summary>The inventory service could not answer: down, too slow, or shed by the breaker or bulkhead.</summary>
internal sealed class InventoryUnavailableException(string message, Exception? inner = null) : Exception(message, inner);
