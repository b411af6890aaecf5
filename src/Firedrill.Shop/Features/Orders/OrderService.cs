using Firedrill.Shop.Features.Inventory;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Firedrill.Shop.Features.Orders;

/// <summary>
/// Places an order: reserve the stock at the inventory service, then write the order in one
/// short transaction. The remote call happens before the transaction, never inside it, so no
/// pooled connection waits on the network; if the order isn't written, the reservation is
/// given back.
/// </summary>
internal sealed class OrderService(OrderStore store, InventoryClient inventory, IOptionsMonitor<OrdersOptions> options)
{
    public async Task<PlaceOrderOutcome> PlaceAsync(long customerId, IReadOnlyList<(long ProductId, int Quantity)> lines, CancellationToken cancellationToken)
    {
        if (!options.CurrentValue.ReserveInventory)
        {
            return await store.PlaceAsync(customerId, lines, cancellationToken);
        }

        if (options.CurrentValue.StockLockedAcrossInventoryCall)
        {
            return await PlaceHoldingStockLockAcrossInventoryCallAsync(customerId, lines, cancellationToken);
        }

        if (options.CurrentValue.ReserveInsideTransaction)
        {
            return await PlaceHoldingConnectionAcrossReservationAsync(customerId, lines, cancellationToken);
        }

        var skus = await store.FindSkusAsync(lines.Select(line => line.ProductId).ToArray(), cancellationToken);
        if (lines.FirstOrDefault(line => !skus.ContainsKey(line.ProductId)) is { ProductId: > 0 } unknown)
        {
            return new PlaceOrderOutcome.UnknownProduct(unknown.ProductId);
        }

        var orderRef = Guid.NewGuid().ToString("N");
        var reservationLines = lines.Select(line => new ReservationLine(skus[line.ProductId], line.Quantity)).ToList();
        var reservation = options.CurrentValue.UnguardedReservation
            ? await inventory.ReserveUnguardedAsync(orderRef, reservationLines, cancellationToken)
            : await inventory.ReserveAsync(orderRef, reservationLines, cancellationToken);
        if (reservation != ReservationResult.Reserved)
        {
            return new PlaceOrderOutcome.NotReserved(reservation == ReservationResult.InsufficientStock
                ? "The inventory service has too little stock for this order."
                : "The inventory service does not stock one of these products.");
        }

        PlaceOrderOutcome outcome;
        try
        {
            outcome = await store.PlaceAsync(customerId, lines, cancellationToken);
        }
        catch
        {
            await inventory.ReleaseAsync(orderRef);
            throw;
        }

        if (outcome is not PlaceOrderOutcome.Placed)
        {
            await inventory.ReleaseAsync(orderRef);
        }

        return outcome;
    }

    /// <summary>
    /// The db-pool-exhaustion incident's broken path (held-across-call), beside the correct one
    /// above: it opens the connection and the transaction first, then calls inventory while
    /// holding both, so every order keeps a pooled connection "idle in transaction" for as long
    /// as inventory takes. Selected by <c>Orders:ReserveInsideTransaction=true</c>.
    /// </summary>
    private async Task<PlaceOrderOutcome> PlaceHoldingConnectionAcrossReservationAsync(
        long customerId, IReadOnlyList<(long ProductId, int Quantity)> lines, CancellationToken cancellationToken)
    {
        await using var connection = await store.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var skus = await OrderStore.FindSkusAsync(connection, transaction, lines.Select(line => line.ProductId).ToArray(), cancellationToken);
        if (lines.FirstOrDefault(line => !skus.ContainsKey(line.ProductId)) is { ProductId: > 0 } unknown)
        {
            return new PlaceOrderOutcome.UnknownProduct(unknown.ProductId);
        }

        return await ReserveThenPlaceAsync(connection, transaction, customerId, lines, skus, cancellationToken);
    }

    /// <summary>
    /// Reproduces the autoscaling-no-relief incident (variant hot-row), beside the correct path
    /// above: the ordered products' rows are locked first (<c>SELECT … FOR UPDATE</c>) and the
    /// inventory reservation is made while the transaction holds them, so each order for a popular
    /// product keeps its row locked for a network round trip and the others wait in line, whatever
    /// the number of replicas. Selected by <c>Orders:StockLockedAcrossInventoryCall=true</c>.
    /// </summary>
    private async Task<PlaceOrderOutcome> PlaceHoldingStockLockAcrossInventoryCallAsync(
        long customerId, IReadOnlyList<(long ProductId, int Quantity)> lines, CancellationToken cancellationToken)
    {
        await using var connection = await store.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var skus = await OrderStore.LockProductsAsync(connection, transaction, lines.Select(line => line.ProductId).ToArray(), cancellationToken);
        if (lines.FirstOrDefault(line => !skus.ContainsKey(line.ProductId)) is { ProductId: > 0 } unknown)
        {
            return new PlaceOrderOutcome.UnknownProduct(unknown.ProductId);
        }

        return await ReserveThenPlaceAsync(connection, transaction, customerId, lines, skus, cancellationToken);
    }

    /// <summary>Reserves at the inventory service inside the caller's transaction, then writes the order there (released again if it was not placed).</summary>
    private async Task<PlaceOrderOutcome> ReserveThenPlaceAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, long customerId,
        IReadOnlyList<(long ProductId, int Quantity)> lines, Dictionary<long, string> skus, CancellationToken cancellationToken)
    {
        var orderRef = Guid.NewGuid().ToString("N");
        var reservation = await inventory.ReserveAsync(
            orderRef, lines.Select(line => new ReservationLine(skus[line.ProductId], line.Quantity)).ToList(), cancellationToken);
        if (reservation != ReservationResult.Reserved)
        {
            return new PlaceOrderOutcome.NotReserved(reservation == ReservationResult.InsufficientStock
                ? "The inventory service has too little stock for this order."
                : "The inventory service does not stock one of these products.");
        }

        var outcome = await store.PlaceAsync(connection, transaction, customerId, lines, cancellationToken);
        if (outcome is not PlaceOrderOutcome.Placed)
        {
            await inventory.ReleaseAsync(orderRef);
        }

        return outcome;
    }
}
