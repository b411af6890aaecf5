using Dapper;
using Firedrill.Shop.Data;
using Firedrill.Shop.Features.Reports;

namespace Firedrill.Shop.Features.Inventory;

/// <summary>
/// The breaker-cascade incident's "expensive-fallback" (InventoryClientOptions.Fallback =
/// SalesTrendEstimate): when inventory cannot answer, estimate a product's stock as the shop's
/// own count less a week of its sales, the sales taken from the year's sales trend report — the
/// report's query (every product, every day of the year) run for one product, on every failed
/// call. Each estimate is a second of database work; when inventory fails, every availability
/// request pays it, and the overload moves from inventory to the database.
/// </summary>
internal sealed class SalesTrendEstimate(SalesReportStore reports, ShopDatabase database, TimeProvider time)
{
    private const int Days = 365;

    public async Task<int?> EstimateAsync(long productId, CancellationToken cancellationToken)
    {
        var to = DateOnly.FromDateTime(time.GetUtcNow().UtcDateTime);
        var report = await reports.TrendAsync(to.AddDays(1 - Days), to, top: int.MaxValue, cancellationToken);
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        var stock = await connection.ExecuteScalarAsync<int?>(new CommandDefinition(
            "SELECT stock FROM products WHERE id = @productId", new { productId }, cancellationToken: cancellationToken));
        var sold = report.Top.FirstOrDefault(product => product.ProductId == productId)?.Units ?? 0;
        return stock is { } count ? Math.Max(0, count - (int)Math.Ceiling(sold * 7.0 / Days)) : null;
    }
}
