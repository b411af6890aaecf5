using Firedrill.Shop.Features.Inventory;
using Microsoft.Extensions.Options;

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
            return await store.PlaceAsync(customerId, lines, whileLocked: null, cancellationToken);
        }

        if (options.CurrentValue.StockLockedAcrossInventoryCall)
        {
            return await PlaceHoldingStockLockAcrossInventoryCallAsync(customerId, lines, cancellationToken);
        }

        var skus = await store.FindSkusAsync(lines.Select(line => line.ProductId).ToArray(), cancellationToken);
        if (lines.FirstOrDefault(line => !skus.ContainsKey(line.ProductId)) is { ProductId: > 0 } unknown)
        {
            return new PlaceOrderOutcome.UnknownProduct(unknown.ProductId);
        }

        var orderRef = Guid.NewGuid().ToString("N");
        var reservation = await inventory.ReserveAsync(
            orderRef, lines.Select(line => new ReservationLine(skus[line.ProductId], line.Quantity)).ToList(), cancellationToken);
        if (reservation != ReservationResult.Reserved)
        {
            return new PlaceOrderOutcome.NotReserved(reservation == ReservationResult.InsufficientStock
                ? "The inventory service has too little stock for this order."
                : "The inventory service does not stock one of these products.");
        }

        PlaceOrderOutcome outcome;
        try
        {
            outcome = await store.PlaceAsync(customerId, lines, whileLocked: null, cancellationToken);
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
    /// Reproduces the autoscaling-no-relief incident (variant hot-row): the products' rows are locked
    /// first and the inventory reservation is made while the transaction holds them, so each order
    /// for a hot product keeps its row locked for a network round trip and the others wait in line.
    /// </summary>
    private async Task<PlaceOrderOutcome> PlaceHoldingStockLockAcrossInventoryCallAsync(
        long customerId, IReadOnlyList<(long ProductId, int Quantity)> lines, CancellationToken cancellationToken)
    {
        var skus = await store.FindSkusAsync(lines.Select(line => line.ProductId).ToArray(), cancellationToken);
        if (lines.FirstOrDefault(line => !skus.ContainsKey(line.ProductId)) is { ProductId: > 0 } unknown)
        {
            return new PlaceOrderOutcome.UnknownProduct(unknown.ProductId);
        }

        var orderRef = Guid.NewGuid().ToString("N");
        var reserved = false;
        try
        {
            var outcome = await store.PlaceAsync(customerId, lines, async token =>
            {
                var reservation = await inventory.ReserveAsync(
                    orderRef, lines.Select(line => new ReservationLine(skus[line.ProductId], line.Quantity)).ToList(), token);
                reserved = reservation == ReservationResult.Reserved;
                return reservation;
            }, cancellationToken);
            if (outcome is PlaceOrderOutcome.Placed)
            {
                reserved = false;
            }

            return outcome;
        }
        finally
        {
            if (reserved)
            {
                await inventory.ReleaseAsync(orderRef);
            }
        }
    }
}
