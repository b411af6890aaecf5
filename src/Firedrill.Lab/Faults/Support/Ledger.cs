using Dapper;
using Npgsql;

namespace Firedrill.Lab.Faults.Support;

/// <summary>The ledger as PostgreSQL holds it: what the consumers applied, per payment event.</summary>
internal static class Ledger
{
    /// <summary>Ledger rows per event id (one expected for every event on the topic).</summary>
    public static async Task<IReadOnlyDictionary<string, long>> RowsPerEventAsync(string database, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(database);
        await connection.OpenAsync(cancellationToken);
        var rows = await connection.QueryAsync<(string EventId, long Rows)>(new CommandDefinition(
            "SELECT event_id, count(*) FROM ledger GROUP BY event_id", cancellationToken: cancellationToken));
        return rows.ToDictionary(row => row.EventId, row => row.Rows, StringComparer.Ordinal);
    }
}
