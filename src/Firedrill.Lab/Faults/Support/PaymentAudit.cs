using Dapper;
using Npgsql;

namespace Firedrill.Lab.Faults.Support;

/// <summary>
/// The payers' own records held against PostgreSQL, the system of record: no acknowledged payment
/// may be missing, and no order may carry more than one payment.
/// </summary>
internal static class PaymentAudit
{
    public const string SummarySql =
        "SELECT count(*) AS payments, count(DISTINCT order_id) AS orders_paid, count(*) - count(DISTINCT order_id) AS extra_charges FROM payments";

    public const string ChargedTwiceSql =
        "SELECT order_id, count(*) AS payments, string_agg(id::text, ', ' ORDER BY id) AS payment_ids FROM payments GROUP BY order_id HAVING count(*) > 1 ORDER BY order_id LIMIT 10";

    /// <param name="Audited">Orders whose payer's record was compared with the database.</param>
    /// <param name="Lost">Acknowledged payments the database does not hold (as acknowledged: its order, its amount, accepted).</param>
    /// <param name="Duplicated">Payments beyond the first for an order the payers paid.</param>
    /// <param name="ChargedUnacknowledged">Orders charged whose payer never heard so (gave up): not lost, but worth knowing.</param>
    public sealed record Result(long Audited, long Acknowledged, long Lost, long Duplicated, long ChargedUnacknowledged, long Refused);

    public static async Task<Result> RunAsync(string database, IReadOnlyCollection<PaymentRecord> records, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(database);
        await connection.OpenAsync(cancellationToken);
        var orders = records.Select(record => record.OrderId).ToArray();
        var rows = (await connection.QueryAsync<(long Id, long OrderId, decimal Amount, string Status)>(new CommandDefinition(
            "SELECT id, order_id, amount, status FROM payments WHERE order_id = ANY(@orders)", new { orders }, cancellationToken: cancellationToken))).ToList();
        var byId = rows.ToDictionary(row => row.Id);
        var perOrder = rows.GroupBy(row => row.OrderId).ToDictionary(group => group.Key, group => group.Count());
        var acknowledged = records.Where(record => record.Acknowledged).ToList();
        var lost = acknowledged.Count(record => record.PaymentId is not { } id || !byId.TryGetValue(id, out var row)
            || row.OrderId != record.OrderId || row.Amount != record.Amount || row.Status != "accepted");
        return new Result(
            records.Count,
            acknowledged.Count,
            lost,
            perOrder.Values.Sum(count => Math.Max(0, count - 1)),
            records.Count(record => !record.Acknowledged && perOrder.ContainsKey(record.OrderId)),
            records.Count(record => record.Refused is not null));
    }
}
