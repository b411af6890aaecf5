using Dapper;
using Firedrill.Shop.Data;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Firedrill.Shop.Features.Orders;

internal sealed partial class OrderStore(ShopDatabase database, TimeProvider time, IOptionsMonitor<OrdersOptions> options, ILogger<OrderStore> logger)
{
    public const string PlacedStatus = "placed";

    /// <summary>An order with an accepted payment (set in the payment's transaction).</summary>
    public const string PaidStatus = "paid";

    // The shared-state defect: one connection for every request (see FindOnSharedConnectionAsync).
    private NpgsqlConnection? _sharedConnection;

    /// <summary>
    /// Places an order in one short transaction: lock the products in id order (so two orders
    /// can't deadlock), check and take the stock, write the order and its lines.
    /// </summary>
    public async Task<PlaceOrderOutcome> PlaceAsync(long customerId, IReadOnlyList<(long ProductId, int Quantity)> lines, CancellationToken cancellationToken)
    {
        // One product: no lock order to keep, so its row is touched by one conditional statement, last.
        if (lines.Count == 1)
        {
            return await PlaceWithConditionalStockUpdateAsync(customerId, lines[0].ProductId, lines[0].Quantity, cancellationToken);
        }

        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        return await PlaceAsync(connection, transaction, customerId, lines, cancellationToken);
    }

    public ValueTask<NpgsqlConnection> OpenConnectionAsync(CancellationToken cancellationToken) => database.OpenConnectionAsync(cancellationToken);

    /// <summary>The order's writes in the caller's transaction, committed here (an outcome other than placed leaves it to roll back).</summary>
    public async Task<PlaceOrderOutcome> PlaceAsync(NpgsqlConnection connection, NpgsqlTransaction transaction,
        long customerId, IReadOnlyList<(long ProductId, int Quantity)> lines, CancellationToken cancellationToken)
    {
        var customerExists = await connection.ExecuteScalarAsync<bool>(new CommandDefinition(
            "SELECT EXISTS (SELECT 1 FROM customers WHERE id = @customerId)", new { customerId }, transaction, cancellationToken: cancellationToken));
        if (!customerExists)
        {
            return new PlaceOrderOutcome.UnknownCustomer(customerId);
        }

        var ids = lines.Select(line => line.ProductId).ToArray();
        var stock = (await connection.QueryAsync<(long Id, decimal Price, int Stock)>(new CommandDefinition(
            "SELECT id, price, stock FROM products WHERE id = ANY(@ids) ORDER BY id FOR UPDATE",
            new { ids }, transaction, cancellationToken: cancellationToken))).ToDictionary(row => row.Id);
        foreach (var (productId, quantity) in lines)
        {
            if (!stock.TryGetValue(productId, out var product))
            {
                return new PlaceOrderOutcome.UnknownProduct(productId);
            }

            if (product.Stock < quantity)
            {
                return new PlaceOrderOutcome.InsufficientStock(productId, quantity, product.Stock);
            }
        }

        var quantities = lines.Select(line => line.Quantity).ToArray();
        var prices = lines.Select(line => stock[line.ProductId].Price).ToArray();
        var total = lines.Sum(line => stock[line.ProductId].Price * line.Quantity);
        var createdAt = time.GetUtcNow().UtcDateTime;
        var (orderId, currency) = await connection.QuerySingleAsync<(long, string)>(new CommandDefinition(
            """
            UPDATE products AS p SET stock = p.stock - l.quantity
            FROM unnest(@ids, @quantities) AS l (product_id, quantity)
            WHERE p.id = l.product_id;

            INSERT INTO orders (customer_id, status, total, created_at)
            VALUES (@customerId, @status, @total, @createdAt)
            RETURNING id, trim(currency);
            """,
            new { ids, quantities, customerId, status = PlacedStatus, total, createdAt }, transaction, cancellationToken: cancellationToken));
        await connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO order_lines (order_id, line_no, product_id, quantity, unit_price)
            SELECT @orderId, l.line_no, l.product_id, l.quantity, l.unit_price
            FROM unnest(@ids, @quantities, @prices) WITH ORDINALITY AS l (product_id, quantity, unit_price, line_no)
            """,
            new { orderId, ids, quantities, prices }, transaction, cancellationToken: cancellationToken));
        await transaction.CommitAsync(cancellationToken);

        var orderLines = lines.Select((line, i) => new OrderLine(line.ProductId, line.Quantity, prices[i])).ToList();
        return new PlaceOrderOutcome.Placed(new Order(orderId, customerId, PlacedStatus, total, currency, createdAt, orderLines));
    }

    /// <summary>
    /// The contention removed (autoscaling-no-relief's fix): the order and its line are written
    /// first, and the product's row is touched by one conditional statement at the very end
    /// (<c>UPDATE … SET stock = stock - n WHERE id = … AND stock &gt;= n</c>), so a popular product's
    /// row is locked for that statement and the commit only, never for a read-check-write.
    /// </summary>
    private async Task<PlaceOrderOutcome> PlaceWithConditionalStockUpdateAsync(long customerId, long productId, int quantity, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        var found = await connection.QuerySingleAsync<(bool CustomerExists, decimal? Price, int? Stock)>(new CommandDefinition(
            "SELECT EXISTS (SELECT 1 FROM customers WHERE id = @customerId), (SELECT price FROM products WHERE id = @productId), (SELECT stock FROM products WHERE id = @productId)",
            new { customerId, productId }, cancellationToken: cancellationToken));
        if (!found.CustomerExists)
        {
            return new PlaceOrderOutcome.UnknownCustomer(customerId);
        }

        if (found.Price is not { } price || found.Stock is not { } stock)
        {
            return new PlaceOrderOutcome.UnknownProduct(productId);
        }

        if (stock < quantity)
        {
            return new PlaceOrderOutcome.InsufficientStock(productId, quantity, stock);
        }

        var total = price * quantity;
        var createdAt = time.GetUtcNow().UtcDateTime;
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var (orderId, currency) = await connection.QuerySingleAsync<(long, string)>(new CommandDefinition(
            """
            INSERT INTO orders (customer_id, status, total, created_at)
            VALUES (@customerId, @status, @total, @createdAt)
            RETURNING id, trim(currency);
            """,
            new { customerId, status = PlacedStatus, total, createdAt }, transaction, cancellationToken: cancellationToken));
        var remaining = await connection.QuerySingleOrDefaultAsync<int?>(new CommandDefinition(
            """
            INSERT INTO order_lines (order_id, line_no, product_id, quantity, unit_price) VALUES (@orderId, 1, @productId, @quantity, @price);
            UPDATE products SET stock = stock - @quantity WHERE id = @productId AND stock >= @quantity RETURNING stock;
            """,
            new { orderId, productId, quantity, price }, transaction, cancellationToken: cancellationToken));
        if (remaining is null)
        {
            // Someone took the last units between the check and the update: nothing was written.
            await transaction.RollbackAsync(cancellationToken);
            return new PlaceOrderOutcome.InsufficientStock(productId, quantity, 0);
        }

        await transaction.CommitAsync(cancellationToken);
        return new PlaceOrderOutcome.Placed(new Order(orderId, customerId, PlacedStatus, total, currency, createdAt, [new OrderLine(productId, quantity, price)]));
    }

    public async Task<Dictionary<long, string>> FindSkusAsync(long[] ids, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        return await FindSkusAsync(connection, null, ids, cancellationToken);
    }

    /// <summary>The products' SKUs, their rows locked (<c>FOR UPDATE</c>, in id order) until the caller's transaction ends.</summary>
    public static async Task<Dictionary<long, string>> LockProductsAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, long[] ids, CancellationToken cancellationToken)
    {
        var rows = await connection.QueryAsync<(long Id, string Sku)>(new CommandDefinition(
            "SELECT id, sku FROM products WHERE id = ANY(@ids) ORDER BY id FOR UPDATE", new { ids }, transaction, cancellationToken: cancellationToken));
        return rows.ToDictionary(row => row.Id, row => row.Sku);
    }

    public static async Task<Dictionary<long, string>> FindSkusAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, long[] ids, CancellationToken cancellationToken)
    {
        var rows = await connection.QueryAsync<(long Id, string Sku)>(new CommandDefinition(
            "SELECT id, sku FROM products WHERE id = ANY(@ids)", new { ids }, transaction, cancellationToken: cancellationToken));
        return rows.ToDictionary(row => row.Id, row => row.Sku);
    }

    public async Task<Order?> FindAsync(long id, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        var rows = await connection.QueryAsync<OrderRow>(new CommandDefinition(
            $"{SelectOrderRows(TotalColumn)} WHERE o.id = @id ORDER BY l.line_no", new { id }, cancellationToken: cancellationToken));
        return Assemble(rows).SingleOrDefault();
    }

    /// <summary>
    /// The random-500s incident's broken path (shared-state), beside <see cref="FindAsync"/>: every
    /// lookup shares one connection this singleton keeps open (saving the pool a round trip). An
    /// Npgsql connection runs one command at a time, so two concurrent lookups on one replica fail
    /// with NpgsqlOperationInProgressException: a 500 that only concurrency reveals.
    /// Selected by <c>Orders:SharedConnectionReads=true</c>.
    /// </summary>
    public async Task<Order?> FindOnSharedConnectionAsync(long id, CancellationToken cancellationToken)
    {
        var connection = _sharedConnection ??= await database.OpenConnectionAsync(cancellationToken);
        var rows = await connection.QueryAsync<OrderRow>(new CommandDefinition(
            $"{SelectOrderRows(TotalColumn)} WHERE o.id = @id ORDER BY l.line_no", new { id }, cancellationToken: cancellationToken));
        return Assemble(rows).SingleOrDefault();
    }

    /// <summary>A customer's orders, newest first, with their lines: one set-based query, not one per order.</summary>
    public async Task<IReadOnlyList<Order>?> FindByCustomerAsync(long customerId, int page, int pageSize, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        var rows = (await connection.QueryAsync<OrderRow>(new CommandDefinition(
            $$"""
            WITH page AS (
                SELECT id FROM orders WHERE customer_id = @customerId ORDER BY id DESC LIMIT @pageSize OFFSET @offset)
            SELECT o.id AS Id, o.customer_id AS CustomerId, o.status AS Status, {{TotalColumn}} AS Total, trim(o.currency) AS Currency, o.created_at AS CreatedAt,
                   l.product_id AS ProductId, l.quantity AS Quantity, l.unit_price AS UnitPrice
            FROM page JOIN orders o ON o.id = page.id JOIN order_lines l ON l.order_id = o.id
            ORDER BY o.id DESC, l.line_no
            """,
            new { customerId, pageSize, offset = (long)(page - 1) * pageSize }, cancellationToken: cancellationToken))).ToList();
        if (rows.Count == 0 && !await CustomerExistsAsync(connection, customerId, cancellationToken))
        {
            return null;
        }

        return Assemble(rows);
    }

    /// <summary>
    /// The slow-in-production incident's broken path (n-plus-one), beside <see cref="FindByCustomerAsync"/>:
    /// the page's orders, then one query per order for its lines — 51 round trips for a page of
    /// 50. A customer with a handful of orders on a laptop never notices; a production customer's
    /// full page under concurrent load multiplies the database's work fiftyfold.
    /// Selected by <c>Orders:HistoryQueryPerOrder=true</c>.
    /// </summary>
    public async Task<IReadOnlyList<Order>?> FindByCustomerOneQueryPerOrderAsync(long customerId, int page, int pageSize, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        var headers = (await connection.QueryAsync<OrderHeader>(new CommandDefinition(
            $"""
            SELECT o.id AS Id, o.customer_id AS CustomerId, o.status AS Status, {TotalColumn} AS Total, trim(o.currency) AS Currency, o.created_at AS CreatedAt
            FROM orders o WHERE o.customer_id = @customerId ORDER BY o.id DESC LIMIT @pageSize OFFSET @offset
            """,
            new { customerId, pageSize, offset = (long)(page - 1) * pageSize }, cancellationToken: cancellationToken))).ToList();
        if (headers.Count == 0 && !await CustomerExistsAsync(connection, customerId, cancellationToken))
        {
            return null;
        }

        var rows = new List<OrderRow>();
        foreach (var header in headers)
        {
            var lines = await connection.QueryAsync<OrderLine>(new CommandDefinition(
                "SELECT product_id AS ProductId, quantity AS Quantity, unit_price AS UnitPrice FROM order_lines WHERE order_id = @id ORDER BY line_no",
                new { id = header.Id }, cancellationToken: cancellationToken));
            rows.AddRange(lines.Select(line => new OrderRow(header.Id, header.CustomerId, header.Status, header.Total, header.Currency, header.CreatedAt, line.ProductId, line.Quantity, line.UnitPrice)));
        }

        return Assemble(rows);
    }

    private sealed record OrderHeader(long Id, long CustomerId, string Status, decimal? Total, string Currency, DateTime CreatedAt);

    private static Task<bool> CustomerExistsAsync(NpgsqlConnection connection, long customerId, CancellationToken cancellationToken) =>
        connection.ExecuteScalarAsync<bool>(new CommandDefinition(
            "SELECT EXISTS (SELECT 1 FROM customers WHERE id = @customerId)", new { customerId }, cancellationToken: cancellationToken));

    internal static string SelectOrderRows(string totalColumn) => $"""
        SELECT o.id AS Id, o.customer_id AS CustomerId, o.status AS Status, {totalColumn} AS Total, trim(o.currency) AS Currency, o.created_at AS CreatedAt,
               l.product_id AS ProductId, l.quantity AS Quantity, l.unit_price AS UnitPrice
        FROM orders o JOIN order_lines l ON l.order_id = o.id
        """;

    /// <summary>
    /// How the stored total is read. A NaN total (numeric allows it; a legacy import wrote some)
    /// can't become a decimal: tolerated, it reads as NULL and the order's total is its lines'
    /// sum. <c>Orders:ReadTotalsStrictly=true</c> is the random-500s incident's broken path
    /// (bad-record): the column straight into a decimal, so those orders fail every time.
    /// </summary>
    internal string TotalColumn => options.CurrentValue.ReadTotalsStrictly ? "o.total" : "NULLIF(o.total, 'NaN')";

    internal List<Order> Assemble(IEnumerable<OrderRow> rows) =>
        rows.GroupBy(row => row.Id)
            .Select(order =>
            {
                var first = order.First();
                var lines = order.Select(row => new OrderLine(row.ProductId, row.Quantity, row.UnitPrice)).ToList();
                if (first.Total is not { } total)
                {
                    total = lines.Sum(line => line.UnitPrice * line.Quantity);
                    LogUnreadableTotal(first.Id, total);
                }

                return new Order(first.Id, first.CustomerId, first.Status, total, first.Currency, first.CreatedAt, lines);
            })
            .ToList();

    [LoggerMessage(EventId = 2001, Level = LogLevel.Warning, Message = "Order {OrderId} has no readable stored total (NaN); answered with its lines' sum {Total}")]
    private partial void LogUnreadableTotal(long orderId, decimal total);

    internal sealed record OrderRow(long Id, long CustomerId, string Status, decimal? Total, string Currency, DateTime CreatedAt, long ProductId, int Quantity, decimal UnitPrice);
}
