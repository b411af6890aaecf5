using Dapper;
using Firedrill.Lab.Load;
using Firedrill.Lab.Scenarios;
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
    /// <param name="Retried">Payers that needed more than one attempt.</param>
    /// <param name="Replays">Answers the payers got replayed (<c>Idempotent-Replayed: true</c>).</param>
    public sealed record Result(long Audited, long Acknowledged, long Lost, long Duplicated, long ChargedUnacknowledged, long Refused, long Retried, long Replays)
    {
        public CheckResult NoneLost => Verdict.EqualTo("acknowledged payments missing from PostgreSQL", "audit", Lost, 0);

        public CheckResult NoneChargedTwice => Verdict.EqualTo("payments beyond the first per order", "audit", Duplicated, 0);

        public CheckResult NoneGaveUp => Verdict.EqualTo("payers never acknowledged (retries gave up)", "audit", Audited - Acknowledged, 0);

        /// <summary>
        /// The outcome of a fault whose promise is the payments' own: the audit's counts, its checks
        /// (none lost, none charged twice, every payer acknowledged) before the fault's, the payers'
        /// figures before the fault's.
        /// </summary>
        public FaultOutcome Outcome(FaultClock clock, LoadResult load, double recovery, IEnumerable<CheckResult> checks,
            IReadOnlyDictionary<string, double> figures, string summary)
        {
            var all = new Dictionary<string, double>(StringComparer.Ordinal)
            {
                ["payers"] = Audited,
                ["acknowledged"] = Acknowledged,
                ["payments_retried"] = Retried,
                ["failed_attempts"] = load.Total.Errors,
            };
            foreach (var (name, value) in figures)
            {
                all.Add(name, value);
            }

            return new FaultOutcome
            {
                Load = load,
                Clock = clock,
                Audited = Audited,
                Lost = Lost,
                Duplicated = Duplicated,
                RecoverySeconds = recovery,
                Checks = [NoneLost, NoneChargedTwice, NoneGaveUp, .. checks],
                Figures = all,
                Summary = summary,
            };
        }

        /// <summary>The figures of a fault whose promise lies elsewhere, with the payers' beside them (the load it ran under).</summary>
        public IReadOnlyDictionary<string, double> WithPayers(Dictionary<string, double> figures, LoadResult load)
        {
            figures.Add("payers", Audited);
            figures.Add("payers_acknowledged", Acknowledged);
            figures.Add("failed_attempts", load.Total.Errors);
            return figures;
        }
    }

    /// <summary>The audit, with the payments table's summary (one payment per order) kept as evidence.</summary>
    public static async Task<Result> CaptureAsync(ScenarioContext context, IReadOnlyCollection<PaymentRecord> records, CancellationToken cancellationToken)
    {
        var result = await RunAsync(context.Fleet.DatabaseConnection, records, cancellationToken);
        await context.Evidence.PsqlAsync("Payments in PostgreSQL: one per order", "audit", SummarySql, cancellationToken);
        return result;
    }

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
            records.Count(record => record.Refused is not null),
            records.Count(record => record.Failures > 0),
            records.Sum(record => record.Replays));
    }
}
