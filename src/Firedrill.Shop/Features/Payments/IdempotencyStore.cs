using Dapper;
using Firedrill.Shop.Data;
using Npgsql;

namespace Firedrill.Shop.Features.Payments;

/// <summary>
/// Idempotency keys in PostgreSQL (draft-ietf-httpapi-idempotency-key-header). The table's
/// primary key makes a key single-use across every replica; process memory plays no part.
/// Lease times use the database clock, the one clock all replicas share.
/// </summary>
internal sealed class IdempotencyStore(ShopDatabase database)
{
    public async Task<KeyClaim> ClaimAsync(string key, byte[] fingerprint, TimeSpan lease, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);

        // A released key can vanish between the insert and the look-up: try again, a few times.
        for (var attempt = 0; attempt < 3; attempt++)
        {
            var inserted = await connection.ExecuteScalarAsync<bool>(new CommandDefinition(
                """
                INSERT INTO idempotency_keys (key, fingerprint, locked_at) VALUES (@key, @fingerprint, now())
                ON CONFLICT (key) DO NOTHING
                RETURNING true
                """,
                new { key, fingerprint }, cancellationToken: cancellationToken));
            if (inserted)
            {
                return new KeyClaim.Claimed();
            }

            var existing = await connection.QuerySingleOrDefaultAsync<KeyRow>(new CommandDefinition(
                """
                SELECT fingerprint AS Fingerprint, completed_at IS NOT NULL AS Completed, locked_at < now() - @lease AS Expired,
                       response_status AS ResponseStatus, response_body AS ResponseBody, response_location AS ResponseLocation
                FROM idempotency_keys WHERE key = @key
                """,
                new { key, lease }, cancellationToken: cancellationToken));
            if (existing is null)
            {
                continue;
            }

            if (!existing.Fingerprint.AsSpan().SequenceEqual(fingerprint))
            {
                return new KeyClaim.Mismatch();
            }

            if (existing.Completed)
            {
                return new KeyClaim.Completed(new StoredResponse(existing.ResponseStatus!.Value, existing.ResponseBody!, existing.ResponseLocation));
            }

            return existing.Expired && await TakeOverAsync(connection, key, lease, cancellationToken)
                ? new KeyClaim.Claimed()
                : new KeyClaim.InFlight();
        }

        return new KeyClaim.InFlight();
    }

    /// <summary>Records the response in the caller's transaction, so the work and its record commit together.</summary>
    public static Task CompleteAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string key, StoredResponse response, CancellationToken cancellationToken) =>
        connection.ExecuteAsync(new CommandDefinition(
            """
            UPDATE idempotency_keys
            SET completed_at = now(), response_status = @Status, response_body = @Body, response_location = @Location
            WHERE key = @key
            """,
            new { key, response.Status, response.Body, response.Location }, transaction, cancellationToken: cancellationToken));

    /// <summary>Gives an unfinished key back after a failure, so the client's retry can do the work.</summary>
    public async Task ReleaseAsync(string key)
    {
        await using var connection = await database.OpenConnectionAsync(CancellationToken.None);
        await connection.ExecuteAsync("DELETE FROM idempotency_keys WHERE key = @key AND completed_at IS NULL", new { key });
    }

    private static async Task<bool> TakeOverAsync(NpgsqlConnection connection, string key, TimeSpan lease, CancellationToken cancellationToken) =>
        await connection.ExecuteScalarAsync<bool>(new CommandDefinition(
            """
            UPDATE idempotency_keys SET locked_at = now()
            WHERE key = @key AND completed_at IS NULL AND locked_at < now() - @lease
            RETURNING true
            """,
            new { key, lease }, cancellationToken: cancellationToken));

    private sealed record KeyRow(byte[] Fingerprint, bool Completed, bool Expired, int? ResponseStatus, string? ResponseBody, string? ResponseLocation);
}
