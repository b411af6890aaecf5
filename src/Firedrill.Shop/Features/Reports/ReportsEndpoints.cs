using Firedrill.ServiceDefaults.Http;
using Firedrill.ServiceDefaults.Options;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace Firedrill.Shop.Features.Reports;

public static class ReportsEndpoints
{
    public const int DefaultDays = 90;
    public const int DefaultTop = 20;
    public const int MaxTop = 100;

    public static IEndpointRouteBuilder MapReports(this IEndpointRouteBuilder app)
    {
        app.MapGroup("/reports").WithTags("Reports").MapGet("/sales", SalesAsync);
        return app;
    }

    internal static IHostApplicationBuilder AddReports(this IHostApplicationBuilder builder)
    {
        builder.Services.AddRuntimeOptions<ReportsOptions, ReportsOptionsValidator>(ReportsOptions.SectionName);
        builder.Services.AddSingleton<SalesReportStore>();
        return builder;
    }

    /// <summary><c>GET /reports/sales?days=&amp;top=</c>: the trend of the last <c>days</c> days up to today (UTC), the best-selling products first.</summary>
    private static async Task<Results<Ok<SalesTrendReport>, ValidationProblem>> SalesAsync(
        int? days, int? top, SalesReportStore store, IOptionsMonitor<ReportsOptions> options, TimeProvider time, CancellationToken cancellationToken)
    {
        var maxDays = options.CurrentValue.MaxDays;
        var validation = new Validation()
            .Require(days is null || (days >= 1 && days <= maxDays), "days", $"must be between 1 and {maxDays}")
            .Require(top is null or >= 1 and <= MaxTop, "top", $"must be between 1 and {MaxTop}");
        if (!validation.IsValid)
        {
            return validation.ToProblem();
        }

        var to = DateOnly.FromDateTime(time.GetUtcNow().UtcDateTime);
        var from = to.AddDays(1 - (days ?? Math.Min(DefaultDays, maxDays)));
        return TypedResults.Ok(await store.TrendAsync(from, to, top ?? DefaultTop, cancellationToken));
    }
}
