using Dapper;
using Firedrill.Shop.Data;
using Npgsql;

namespace Firedrill.Shop.Features.Orders;

internal sealed class OrderStore(ShopDatabase database, TimeProvider time)
{
    public const string PlacedStatus = "placed";

    /// <summary>An order with an accepted payment (set in the payment's transaction).</summary>
    public const string PaidStatus = "paid";

    /// <summary>
    /// Places an order in one short transaction: lock the products in id order (so two orders
    /// can't deadlock), check and take the stock, write the order and its lines.
    /// </summary>
    /// <param name="whileLocked">
    /// Null on the correct path. The hot-row defect passes the inventory reservation here, to run
    /// while the products' rows are locked; anything but reserved abandons the order.
    /// </param>
    public async Task<PlaceOrderOutcome> PlaceAsync(long customerId, IReadOnlyList<(long ProductId, int Quantity)> lines,
        Func<CancellationToken, Task<Inventory.ReservationResult>>? whileLocked, CancellationToken cancellationToken)
    {
        // One product: no lock order to keep, so its row is touched by one conditional statement, last.
        if (whileLocked is null && lines.Count == 1)
        {
            return await PlaceWithConditionalStockUpdateAsync(customerId, lines[0].ProductId, lines[0].Quantity, cancellationToken);
        }

        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);

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

        if (whileLocked is not null && await whileLocked(cancellationToken) is var reservation && reservation != Inventory.ReservationResult.Reserved)
        {
            return new PlaceOrderOutcome.NotReserved(reservation == Inventory.ReservationResult.InsufficientStock
                ? "The inventory service has too little stock for this order."
                : "The inventory service does not stock one of these products.");
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
        var rows = await connection.QueryAsync<(long Id, string Sku)>(new CommandDefinition(
            "SELECT id, sku FROM products WHERE id = ANY(@ids)", new { ids }, cancellationToken: cancellationToken));
        return rows.ToDictionary(row => row.Id, row => row.Sku);
    }

    public async Task<Order?> FindAsync(long id, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        var rows = await connection.QueryAsync<OrderRow>(new CommandDefinition(
            $"{SelectOrderRows} WHERE o.id = @id ORDER BY l.line_no", new { id }, cancellationToken: cancellationToken));
        return Assemble(rows).SingleOrDefault();
    }

    /// <summary>A customer's orders, newest first, with their lines: one set-based query, not one per order.</summary>
    public async Task<IReadOnlyList<Order>?> FindByCustomerAsync(long customerId, int page, int pageSize, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        var rows = (await connection.QueryAsync<OrderRow>(new CommandDefinition(
            """
            WITH page AS (
                SELECT id FROM orders WHERE customer_id = @customerId ORDER BY id DESC LIMIT @pageSize OFFSET @offset)
            SELECT o.id AS Id, o.customer_id AS CustomerId, o.status AS Status, o.total AS Total, trim(o.currency) AS Currency, o.created_at AS CreatedAt,
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

    private static Task<bool> CustomerExistsAsync(NpgsqlConnection connection, long customerId, CancellationToken cancellationToken) =>
        connection.ExecuteScalarAsync<bool>(new CommandDefinition(
            "SELECT EXISTS (SELECT 1 FROM customers WHERE id = @customerId)", new { customerId }, cancellationToken: cancellationToken));

    private const string SelectOrderRows = """
        SELECT o.id AS Id, o.customer_id AS CustomerId, o.status AS Status, o.total AS Total, trim(o.currency) AS Currency, o.created_at AS CreatedAt,
               l.product_id AS ProductId, l.quantity AS Quantity, l.unit_price AS UnitPrice
        FROM orders o JOIN order_lines l ON l.order_id = o.id
        """;

    private static List<Order> Assemble(IEnumerable<OrderRow> rows) =>
        rows.GroupBy(row => row.Id)
            .Select(order =>
            {
                var first = order.First();
                return new Order(first.Id, first.CustomerId, first.Status, first.Total, first.Currency, first.CreatedAt,
                    order.Select(row => new OrderLine(row.ProductId, row.Quantity, row.UnitPrice)).ToList());
            })
            .ToList();

    private sealed record OrderRow(long Id, long CustomerId, string Status, decimal Total, string Currency, DateTime CreatedAt, long ProductId, int Quantity, decimal UnitPrice);
}
