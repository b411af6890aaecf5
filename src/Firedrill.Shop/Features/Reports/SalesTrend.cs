namespace Firedrill.Shop.Features.Reports;

/// <summary>Sales per product over a period, day by day, with moving averages (the back office's trend report).</summary>
public sealed record SalesTrendReport(DateOnly From, DateOnly To, int Days, long Products, decimal Revenue, long Units, IReadOnlyList<ProductTrend> Top);

/// <summary>
/// One product over the period: its revenue and units, the best and the latest 7-day average
/// daily revenue, and the latest 28-day average (latest7 above latest28: selling faster lately).
/// </summary>
public sealed record ProductTrend(long ProductId, string Sku, decimal Revenue, long Units, decimal Peak7DayAverage, decimal Latest7DayAverage, decimal Latest28DayAverage);
