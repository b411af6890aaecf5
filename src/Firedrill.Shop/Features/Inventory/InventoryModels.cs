namespace Firedrill.Shop.Features.Inventory;

/// <summary>What the shop can say about a product's stock at the inventory service.</summary>
public sealed record Availability(long ProductId, string Sku, int? Available, string Status)
{
    public const string Known = "known";
    public const string Unknown = "unknown";

    /// <summary>Inventory failed and the expensive fallback estimated the stock (the breaker-cascade incident's expensive-fallback).</summary>
    public const string Estimated = "estimated";
}

internal sealed record InventoryLevel(string Sku, int Available);

internal sealed record ReservationLine(string Sku, int Quantity);

internal sealed record ReservationRequest(string OrderRef, IReadOnlyList<ReservationLine> Lines);

/// <param name="FencingToken">The job lease's token (null without a lease): inventory refuses a token smaller than one it accepted for the window.</param>
internal sealed record SyncRequest(DateTime Window, string Replica, int Checked, int Differ, long? FencingToken);

internal enum ReservationResult
{
    Reserved,
    InsufficientStock,
    UnknownSku,
}

/// <summary>The inventory service could not answer: down, too slow, or shed by the breaker or bulkhead.</summary>
internal sealed class InventoryUnavailableException(string message, Exception? inner = null) : Exception(message, inner);
