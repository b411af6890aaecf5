using Dapper;
using Firedrill.Shop.Data;

namespace Firedrill.Shop.Features.Catalog;

/// <summary>The catalogue's SQL, one statement per question.</summary>
internal sealed class ProductStore(ShopDatabase database, TimeProvider time)
{
    private const string Columns = "id, sku, name, price, stock, updated_at AS UpdatedAt";

    public async Task<Product?> FindAsync(long id, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        return await connection.QuerySingleOrDefaultAsync<Product>(new CommandDefinition(
            $"SELECT {Columns} FROM products WHERE id = @id", new { id }, cancellationToken: cancellationToken));
    }

    public async Task<ProductPage> SearchAsync(string? query, int page, int pageSize, CancellationToken cancellationToken)
    {
        // The user's text is matched literally: LIKE's wildcards in it are escaped.
        var pattern = query is null ? null : "%" + query.Replace(@"\", @"\\", StringComparison.Ordinal)
            .Replace("%", @"\%", StringComparison.Ordinal).Replace("_", @"\_", StringComparison.Ordinal) + "%";
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        var rows = (await connection.QueryAsync<ProductRow>(new CommandDefinition(
            $"""
            SELECT {Columns}, count(*) OVER () AS Total
            FROM products
            WHERE @pattern::text IS NULL OR name ILIKE @pattern OR sku ILIKE @pattern
            ORDER BY id
            LIMIT @pageSize OFFSET @offset
            """,
            new { pattern, pageSize, offset = (long)(page - 1) * pageSize },
            cancellationToken: cancellationToken))).ToList();

        // Past the last page there are no rows to carry the count; ask once more.
        var total = rows.Count > 0 ? rows[0].Total : await connection.ExecuteScalarAsync<long>(new CommandDefinition(
            "SELECT count(*) FROM products WHERE @pattern::text IS NULL OR name ILIKE @pattern OR sku ILIKE @pattern",
            new { pattern }, cancellationToken: cancellationToken));
        return new ProductPage(rows.Select(row => row.ToProduct()).ToList(), page, pageSize, total);
    }

    public async Task<Product?> UpdatePriceAsync(long id, decimal price, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        return await connection.QuerySingleOrDefaultAsync<Product>(new CommandDefinition(
            $"UPDATE products SET price = @price, updated_at = @now WHERE id = @id RETURNING {Columns}",
            new { id, price, now = time.GetUtcNow().UtcDateTime }, cancellationToken: cancellationToken));
    }

    /// <summary>
    /// Applies a price list in one transaction, all or nothing: the SKUs it names that do not
    /// exist (nothing is changed then), or the ids of the products whose price changed.
    /// </summary>
    public async Task<(IReadOnlyList<string> UnknownSkus, IReadOnlyList<long> Changed)> ImportPriceSheetAsync(
        IReadOnlyList<PriceRow> rows, CancellationToken cancellationToken)
    {
        var skus = rows.Select(row => row.Sku).ToArray();
        var prices = rows.Select(row => row.Price).ToArray();
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var unknown = (await connection.QueryAsync<string>(new CommandDefinition(
            "SELECT s.sku FROM unnest(@skus::text[]) AS s(sku) WHERE NOT EXISTS (SELECT 1 FROM products p WHERE p.sku = s.sku)",
            new { skus }, transaction, cancellationToken: cancellationToken))).ToList();
        if (unknown.Count > 0)
        {
            return (unknown, []);
        }

        // Rows are locked in id order, as orders lock them, so an import never deadlocks with checkout.
        var changed = (await connection.QueryAsync<long>(new CommandDefinition(
            """
            WITH input AS (SELECT * FROM unnest(@skus::text[], @prices::numeric[]) AS v(sku, price)),
            target AS (SELECT p.id, i.price FROM products p JOIN input i ON i.sku = p.sku
                       WHERE p.price <> i.price ORDER BY p.id FOR UPDATE OF p)
            UPDATE products p SET price = target.price, updated_at = @now FROM target WHERE p.id = target.id
            RETURNING p.id
            """,
            new { skus, prices, now = time.GetUtcNow().UtcDateTime }, transaction, cancellationToken: cancellationToken))).ToList();
        await transaction.CommitAsync(cancellationToken);
        return ([], changed);
    }

    /// <summary>One set-based statement for the whole batch; ids that match no product are not in the result.</summary>
    public async Task<IReadOnlyList<long>> ImportPricesAsync(long[] ids, decimal[] prices, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        return (await connection.QueryAsync<long>(new CommandDefinition(
            """
            UPDATE products AS p SET price = i.price, updated_at = @now
            FROM unnest(@ids, @prices) AS i (id, price)
            WHERE p.id = i.id
            RETURNING p.id
            """,
            new { ids, prices, now = time.GetUtcNow().UtcDateTime }, cancellationToken: cancellationToken))).ToList();
    }

    private sealed record ProductRow(long Id, string Sku, string Name, decimal Price, int Stock, DateTime UpdatedAt, long Total)
    {
        public Product ToProduct() => new(Id, Sku, Name, Price, Stock, UpdatedAt);
    }
}
