using System.Globalization;
using System.Text.RegularExpressions;

namespace Firedrill.Shop.Features.Catalog;

/// <summary>One price of an import: the CSV line it came from, the SKU and the new price.</summary>
internal sealed record PriceRow(int Line, string Sku, decimal Price);

/// <summary>
/// A price list as a back office exports it: CSV (RFC 4180 quoting), a header naming at least the
/// <c>sku</c> and <c>price</c> columns (others, such as a product name, are ignored), one product
/// per line. Parsing collects every problem by line, so the uploader can fix the file in one go.
/// </summary>
internal static partial class PriceSheet
{
    /// <summary>Problems reported at most; a file with more is refused on these.</summary>
    public const int MaxReportedErrors = 20;

    public static (IReadOnlyList<PriceRow> Rows, IReadOnlyDictionary<string, string> Errors) Parse(string text, int maxRows, decimal maxPrice)
    {
        var rows = new List<PriceRow>();
        var errors = new Dictionary<string, string>(StringComparer.Ordinal);
        var lines = text.ReplaceLineEndings("\n").Split('\n');
        if (lines.Length == 0 || Split(lines[0]) is not { } header)
        {
            errors["line 1"] = "the header is not valid CSV";
            return (rows, errors);
        }

        var columns = header.Select(name => name.Trim().ToLowerInvariant()).ToList();
        var skuColumn = columns.IndexOf("sku");
        var priceColumn = columns.IndexOf("price");
        if (skuColumn < 0 || priceColumn < 0)
        {
            errors["line 1"] = "the header must name a 'sku' and a 'price' column";
            return (rows, errors);
        }

        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 1; i < lines.Length && errors.Count < MaxReportedErrors; i++)
        {
            var number = i + 1;
            if (lines[i].Length == 0)
            {
                continue;
            }

            if (rows.Count == maxRows)
            {
                errors[$"line {number}"] = $"an import may carry at most {maxRows} prices";
                break;
            }

            var error = ParseLine(lines[i], skuColumn, priceColumn, columns.Count, maxPrice, out var sku, out var price);
            if (error is null && seen.TryGetValue(sku, out var first))
            {
                error = $"repeats {sku} of line {first}";
            }

            if (error is not null)
            {
                errors[$"line {number}"] = error;
                continue;
            }

            seen[sku] = number;
            rows.Add(new PriceRow(number, sku, price));
        }

        if (rows.Count == 0 && errors.Count == 0)
        {
            errors["line 2"] = "the file has a header but no prices";
        }

        return (rows, errors);
    }

    private static string? ParseLine(string line, int skuColumn, int priceColumn, int columnCount, decimal maxPrice, out string sku, out decimal price)
    {
        (sku, price) = ("", 0m);
        if (Split(line) is not { } fields)
        {
            return "is not valid CSV (an unbalanced quote)";
        }

        if (fields.Count != columnCount)
        {
            return $"has {fields.Count} fields; the header has {columnCount}";
        }

        sku = fields[skuColumn].Trim();
        if (!SkuFormat().IsMatch(sku))
        {
            return $"sku '{Shorten(sku)}' must look like SKU-000001";
        }

        var text = fields[priceColumn].Trim();
        if (!decimal.TryParse(text, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out price))
        {
            return $"price '{Shorten(text)}' is not a number such as 12.50";
        }

        return price <= 0 || price > maxPrice || decimal.Round(price, 2) != price
            ? $"price {text} must be greater than 0, at most {maxPrice}, with at most 2 decimal places"
            : null;
    }

    /// <summary>The fields of one line, RFC 4180 style: a quoted field may hold commas and doubled quotes. Null when a quote is unbalanced.</summary>
    private static List<string>? Split(string line)
    {
        var fields = new List<string>();
        var field = new System.Text.StringBuilder();
        var quoted = false;
        for (var i = 0; i < line.Length; i++)
        {
            var c = line[i];
            if (quoted)
            {
                if (c != '"')
                {
                    field.Append(c);
                }
                else if (i + 1 < line.Length && line[i + 1] == '"')
                {
                    field.Append('"');
                    i++;
                }
                else
                {
                    quoted = false;
                }
            }
            else if (c == '"')
            {
                quoted = true;
            }
            else if (c == ',')
            {
                fields.Add(field.ToString());
                field.Clear();
            }
            else
            {
                field.Append(c);
            }
        }

        fields.Add(field.ToString());
        return quoted ? null : fields;
    }

    private static string Shorten(string text) => text.Length <= 40 ? text : text[..40] + "…";

    [GeneratedRegex("^SKU-[0-9]{6}$")]
    private static partial Regex SkuFormat();
}
