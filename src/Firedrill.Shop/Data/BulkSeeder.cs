using Dapper;
using Npgsql;
using NpgsqlTypes;

namespace Firedrill.Shop.Data;

/// <summary>
/// Seeds large volumes fast with binary <c>COPY</c> (a million orders in seconds, not minutes):
/// the data behind "fast locally, slow in production".
/// </summary>
internal sealed partial class BulkSeeder(ShopDatabase database, TimeProvider time, ILogger<BulkSeeder> logger)
{
    public const int MaxOrders = 10_000_000;

    public const int MaxCustomers = 1_000_000;

    /// <summary>Writes <paramref name="count"/> orders with their lines, spread over at least <paramref name="customers"/> customers (added if missing).</summary>
    /// <param name="progress">Orders written so far, every 100,000; then count + the orders whose lines are written.</param>
    public async Task SeedOrdersAsync(int count, IProgress<int>? progress, CancellationToken cancellationToken, int customers = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, MaxOrders);
        ArgumentOutOfRangeException.ThrowIfNegative(customers);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(customers, MaxCustomers);

        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        // A production-sized history needs production-many customers: each one's orders are then a thin slice of the table.
        await connection.ExecuteAsync(new CommandDefinition("""
            INSERT INTO customers (id, name, email)
            SELECT i, 'Customer ' || i, 'customer' || i || '@example.test'
            FROM generate_series((SELECT coalesce(max(id), 0) + 1 FROM customers), @customers) AS i
            """, new { customers = (long)customers }, cancellationToken: cancellationToken));
        var prices = (await connection.QueryAsync<decimal>(new CommandDefinition("SELECT price FROM products ORDER BY id", cancellationToken: cancellationToken))).ToArray();
        var customerCount = await connection.ExecuteScalarAsync<long>(new CommandDefinition("SELECT count(*) FROM customers", cancellationToken: cancellationToken));
        if (prices.Length == 0 || customerCount == 0)
        {
            throw new InvalidOperationException("The catalogue is empty: start the shop once so it migrates and seeds the database.");
        }

        var firstId = await connection.ExecuteScalarAsync<long>(new CommandDefinition("SELECT coalesce(max(id), 0) + 1 FROM orders", cancellationToken: cancellationToken));
        var createdAt = time.GetUtcNow().UtcDateTime;

        // Lines come from their own seeded generator, replayed for the second COPY, so no
        // pass holds the whole data set in memory.
        const int LinesSeed = 42;
        var others = new Random(7);
        var shapes = new Random(LinesSeed);
        await using (var orders = await connection.BeginBinaryImportAsync("COPY orders (id, customer_id, status, total, created_at) FROM STDIN (FORMAT BINARY)", cancellationToken))
        {
            for (var i = 0; i < count; i++)
            {
                var total = 0m;
                foreach (var (_, productId, quantity) in NextLines(shapes, prices.Length))
                {
                    total += prices[productId - 1] * quantity;
                }

                await orders.StartRowAsync(cancellationToken);
                await orders.WriteAsync(firstId + i, NpgsqlDbType.Bigint, cancellationToken);
                await orders.WriteAsync(1 + others.NextInt64(customerCount), NpgsqlDbType.Bigint, cancellationToken);
                await orders.WriteAsync("placed", NpgsqlDbType.Text, cancellationToken);
                await orders.WriteAsync(total, NpgsqlDbType.Numeric, cancellationToken);
                await orders.WriteAsync(createdAt.AddSeconds(-others.Next(90 * 24 * 3600)), NpgsqlDbType.TimestampTz, cancellationToken);
                if ((i + 1) % 100_000 == 0)
                {
                    progress?.Report(i + 1);
                }
            }

            await orders.CompleteAsync(cancellationToken);
        }

        shapes = new Random(LinesSeed);
        var lineCount = 0;
        await using (var lines = await connection.BeginBinaryImportAsync("COPY order_lines (order_id, line_no, product_id, quantity, unit_price) FROM STDIN (FORMAT BINARY)", cancellationToken))
        {
            for (var i = 0; i < count; i++)
            {
                foreach (var (lineNo, productId, quantity) in NextLines(shapes, prices.Length))
                {
                    await lines.StartRowAsync(cancellationToken);
                    await lines.WriteAsync(firstId + i, NpgsqlDbType.Bigint, cancellationToken);
                    await lines.WriteAsync(lineNo, NpgsqlDbType.Integer, cancellationToken);
                    await lines.WriteAsync((long)productId, NpgsqlDbType.Bigint, cancellationToken);
                    await lines.WriteAsync(quantity, NpgsqlDbType.Integer, cancellationToken);
                    await lines.WriteAsync(prices[productId - 1], NpgsqlDbType.Numeric, cancellationToken);
                    lineCount++;
                }

                if ((i + 1) % 100_000 == 0)
                {
                    progress?.Report(count + i + 1);
                }
            }

            await lines.CompleteAsync(cancellationToken);
        }

        // Explicit ids bypassed the identity; move it past them so new orders don't collide.
        await connection.ExecuteAsync(new CommandDefinition(
            "SELECT setval(pg_get_serial_sequence('orders', 'id'), (SELECT max(id) FROM orders)); ANALYZE orders; ANALYZE order_lines;",
            cancellationToken: cancellationToken));
        LogSeeded(count, lineCount);
    }

    private static IEnumerable<(int LineNo, int ProductId, int Quantity)> NextLines(Random random, int products)
    {
        var count = 1 + random.Next(3);
        for (var line = 1; line <= count; line++)
        {
            yield return (line, 1 + random.Next(products), 1 + random.Next(4));
        }
    }

    [LoggerMessage(EventId = 1010, Level = LogLevel.Information, Message = "Bulk-seeded {Orders} orders with {Lines} lines")]
    private partial void LogSeeded(int orders, int lines);
}
