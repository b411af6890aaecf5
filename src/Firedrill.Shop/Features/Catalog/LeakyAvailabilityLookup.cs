using Dapper;
using Firedrill.Shop.Data;
using Firedrill.Shop.Features.Inventory;

namespace Firedrill.Shop.Features.Catalog;

/// <summary>
/// The db-pool-exhaustion incident's broken path (leak-on-error), beside the correct
/// availability path in <see cref="CatalogEndpoints"/> (the cached product, no connection): it
/// reads the SKU with a connection it disposes by hand at the end, and the fallback's early
/// return skips that line. Every inventory failure keeps one pooled connection checked out for
/// good, so the pool drains as errors accumulate. Selected by <c>Catalog:LeakyAvailabilityLookup=true</c>.
/// The fix is <c>await using</c>, which disposes on every path.
/// </summary>
internal sealed class LeakyAvailabilityLookup(ShopDatabase database, InventoryClient inventory)
{
    public async Task<Availability?> GetAsync(long productId, CancellationToken cancellationToken)
    {
#pragma warning disable CA2000 // The leak is the incident: this connection is disposed on the happy path only.
        var connection = await database.OpenConnectionAsync(cancellationToken);
#pragma warning restore CA2000
        var sku = await connection.ExecuteScalarAsync<string?>(new CommandDefinition(
            "SELECT sku FROM products WHERE id = @productId", new { productId }, cancellationToken: cancellationToken));
        if (sku is null)
        {
            await connection.DisposeAsync();
            return null;
        }

        var availability = await inventory.GetAvailabilityAsync(productId, sku, cancellationToken);
        if (availability.Status == Availability.Unknown)
        {
            // Inventory failed: answer "unknown" at once, and the connection is never given back.
            return availability;
        }

        await connection.DisposeAsync();
        return availability;
    }
}
