using Dapper;
using Firedrill.Shop.Data;

namespace Firedrill.Shop.Features.Reports;

/// <summary>
/// The sales trend report's SQL. It is slow by nature, not by accident: every product gets a row
/// for every day of the period (days without sales count as zero, so the moving averages are
/// true calendar averages, as a chart needs them), and two window functions run over that whole
/// grid — a thousand products over two years is 730,000 rows of work per report.
/// </summary>
internal sealed class SalesReportStore(ShopDatabase database)
{
    public async Task<SalesTrendReport> TrendAsync(DateOnly from, DateOnly to, int top, CancellationToken cancellationToken)
    {
        const string Sql = """
            WITH days AS (
                SELECT d::date AS day FROM generate_series(@from::date, @to::date, interval '1 day') AS d),
            sales AS (
                SELECT l.product_id, (o.created_at AT TIME ZONE 'UTC')::date AS day,
                       sum(l.quantity * l.unit_price) AS revenue, sum(l.quantity) AS units
                FROM orders o JOIN order_lines l ON l.order_id = o.id
                WHERE o.created_at >= @start AND o.created_at < @end
                GROUP BY 1, 2),
            grid AS (
                SELECT p.id AS product_id, p.sku, d.day, coalesce(s.revenue, 0) AS revenue, coalesce(s.units, 0) AS units
                FROM products p CROSS JOIN days d
                LEFT JOIN sales s ON s.product_id = p.id AND s.day = d.day),
            trend AS (
                SELECT product_id, sku, day, revenue, units,
                       avg(revenue) OVER (PARTITION BY product_id ORDER BY day ROWS BETWEEN 6 PRECEDING AND CURRENT ROW) AS avg7,
                       avg(revenue) OVER (PARTITION BY product_id ORDER BY day ROWS BETWEEN 27 PRECEDING AND CURRENT ROW) AS avg28
                FROM grid),
            per_product AS (
                SELECT product_id, sku, sum(revenue) AS revenue, sum(units) AS units, max(avg7) AS peak7,
                       (array_agg(avg7 ORDER BY day DESC))[1] AS latest7, (array_agg(avg28 ORDER BY day DESC))[1] AS latest28
                FROM trend GROUP BY product_id, sku)
            SELECT product_id AS ProductId, sku AS Sku, revenue AS Revenue, units::bigint AS Units,
                   round(peak7, 2) AS Peak7, round(latest7, 2) AS Latest7, round(latest28, 2) AS Latest28,
                   sum(revenue) OVER () AS TotalRevenue, (sum(units) OVER ())::bigint AS TotalUnits, count(*) OVER () AS Products
            FROM per_product
            ORDER BY revenue DESC, product_id
            LIMIT @top
            """;
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        var rows = (await connection.QueryAsync<Row>(new CommandDefinition(Sql, new
        {
            from,
            to,
            start = from.ToDateTime(TimeOnly.MinValue, DateTimeKind.Utc),
            end = to.AddDays(1).ToDateTime(TimeOnly.MinValue, DateTimeKind.Utc),
            top,
        }, cancellationToken: cancellationToken))).ToList();
        var first = rows.FirstOrDefault();
        return new SalesTrendReport(from, to, to.DayNumber - from.DayNumber + 1, first?.Products ?? 0, first?.TotalRevenue ?? 0, first?.TotalUnits ?? 0,
            rows.Select(row => new ProductTrend(row.ProductId, row.Sku, row.Revenue, row.Units, row.Peak7, row.Latest7, row.Latest28)).ToList());
    }

    private sealed record Row(long ProductId, string Sku, decimal Revenue, long Units, decimal Peak7, decimal Latest7, decimal Latest28,
        decimal TotalRevenue, long TotalUnits, long Products);
}
