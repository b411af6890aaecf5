using Firedrill.ServiceDefaults.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;

namespace Firedrill.Shop.Features.Catalog;

/// <summary>What an import changed.</summary>
public sealed record PriceSheetImportResult(int Rows, int Updated, int Unchanged);

/// <summary>
/// <c>POST /products/prices/import</c> (<c>text/csv</c>): the back office's price list, applied all
/// or nothing. The body is bounded by <see cref="CatalogOptions.MaxImportBytes"/> (413 above it,
/// whether declared or streamed), every line is validated before anything changes, and the
/// changed products leave every replica's cache.
/// </summary>
internal static class PriceImportEndpoint
{
    public const string ContentType = "text/csv";

    public static async Task<Results<Ok<PriceSheetImportResult>, ValidationProblem, ProblemHttpResult>> ImportAsync(
        HttpRequest request, ProductStore store, ProductCache cache, IOptionsMonitor<CatalogOptions> options, CancellationToken cancellationToken)
    {
        var settings = options.CurrentValue;
        if (!MediaTypeHeaderValue.TryParse(request.ContentType, out var mediaType) || !mediaType.MediaType.Equals(ContentType, StringComparison.OrdinalIgnoreCase))
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status415UnsupportedMediaType, title: "Unsupported media type",
                detail: $"Send the price list as {ContentType} with a header line naming the sku and price columns.");
        }

        if (request.ContentLength > settings.MaxImportBytes)
        {
            return TooLarge(settings.MaxImportBytes);
        }

        // A chunked body is held to the same limit while it is read: Kestrel fails the read with a 413.
        if (request.HttpContext.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } size)
        {
            size.MaxRequestBodySize = settings.MaxImportBytes;
        }

        string text;
        using (var reader = new StreamReader(request.Body, System.Text.Encoding.UTF8, detectEncodingFromByteOrderMarks: true))
        {
            text = await reader.ReadToEndAsync(cancellationToken);
        }

        var (rows, errors) = PriceSheet.Parse(text, settings.MaxImportRows, CatalogEndpoints.MaxPrice);
        if (errors.Count > 0)
        {
            return Invalid(errors);
        }

        var (unknown, changed) = await store.ImportPriceSheetAsync(rows, cancellationToken);
        if (unknown.Count > 0)
        {
            var lines = rows.ToDictionary(row => row.Sku, row => row.Line, StringComparer.Ordinal);
            return Invalid(unknown.Take(PriceSheet.MaxReportedErrors).ToDictionary(sku => $"line {lines[sku]}", sku => $"{sku} does not exist"));
        }

        if (changed.Count > 0)
        {
            // After the commit, so no replica can re-cache an old price from the database.
            await cache.InvalidateAsync(changed, cancellationToken);
        }

        return TypedResults.Ok(new PriceSheetImportResult(rows.Count, changed.Count, rows.Count - changed.Count));
    }

    private static ValidationProblem Invalid(IReadOnlyDictionary<string, string> errors)
    {
        var validation = new Validation();
        foreach (var (line, message) in errors)
        {
            validation.Require(false, line, message);
        }

        return validation.ToProblem();
    }

    private static ProblemHttpResult TooLarge(long limit) =>
        TypedResults.Problem(statusCode: StatusCodes.Status413PayloadTooLarge, title: "Price list too large",
            detail: $"A price import may be at most {limit} bytes; split the file.");
}
