using Dapper;
using Firedrill.Shop.Data;

namespace Firedrill.Shop.Features.Messaging;

/// <summary>
/// Writes payment events to the ledger, any number in one statement: the events travel as arrays,
/// <c>processed_events</c> filters out those applied before, and only first deliveries reach the
/// ledger. A statement is its own transaction, so a batch costs one round trip and one commit
/// whatever its size, and is applied entirely or not at all.
/// </summary>
internal sealed class LedgerWriter(ShopDatabase database, TimeProvider time)
{
    // Ordered by event id so that two consumers applying overlapping batches (both briefly own a
    // partition during a rebalance) lock the same keys in the same order: one waits, neither deadlocks.
    private const string Sql =
        """
        WITH incoming AS (
            SELECT * FROM unnest(@EventIds::text[], @PaymentIds::bigint[], @OrderIds::bigint[], @Amounts::numeric[], @Currencies::text[])
                AS t(event_id, payment_id, order_id, amount, currency)
        ),
        fresh AS (
            INSERT INTO processed_events (event_id, processed_at)
            SELECT event_id, @Now FROM incoming ORDER BY event_id
            ON CONFLICT DO NOTHING
            RETURNING event_id
        )
        INSERT INTO ledger (event_id, payment_id, order_id, amount, currency, applied_at)
        SELECT i.event_id, i.payment_id, i.order_id, i.amount, i.currency, @Now FROM incoming i JOIN fresh f USING (event_id)
        RETURNING event_id
        """;

    /// <summary>
    /// Applies <paramref name="events"/> and returns the ids applied for the first time. An id that
    /// appears twice in the batch (a redelivery read in the same batch) is applied once: only its
    /// first copy is sent, because the join would otherwise write one ledger row per copy.
    /// </summary>
    public async Task<HashSet<string>> ApplyAsync(IEnumerable<PaymentAccepted> events, CancellationToken cancellationToken)
    {
        var distinct = events.DistinctBy(e => e.EventId, StringComparer.Ordinal).ToList();
        if (distinct.Count == 0)
        {
            return [];
        }

        var parameters = new
        {
            EventIds = distinct.Select(e => e.EventId).ToArray(),
            PaymentIds = distinct.Select(e => e.PaymentId).ToArray(),
            OrderIds = distinct.Select(e => e.OrderId).ToArray(),
            Amounts = distinct.Select(e => e.Amount).ToArray(),
            Currencies = distinct.Select(e => e.Currency).ToArray(),
            Now = time.GetUtcNow().UtcDateTime,
        };
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        var fresh = await connection.QueryAsync<string>(new CommandDefinition(Sql, parameters, cancellationToken: cancellationToken));
        return fresh.ToHashSet(StringComparer.Ordinal);
    }
}
