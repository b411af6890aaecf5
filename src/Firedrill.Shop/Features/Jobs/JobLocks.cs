using Dapper;
using Firedrill.Shop.Data;

namespace Firedrill.Shop.Features.Jobs;

/// <summary>A lease held on one lock name: the holder and the moment it was taken identify it.</summary>
internal sealed record Lease(string Name, string Holder, DateTime LockedAt);

/// <summary>
/// ShedLock's lock provider for PostgreSQL, on the <c>job_locks</c> table (no .NET library does
/// leases with lock-at-least; advisory locks die with their session, but cannot be held past the run).
/// Time is the database's (<c>clock_timestamp()</c>), so replicas whose clocks differ still agree.
/// </summary>
internal sealed class JobLocks(ShopDatabase database)
{
    /// <summary>Takes <paramref name="name"/> for at most <paramref name="atMost"/>, unless another holder's lease is still running.</summary>
    public async Task<Lease?> TryLeaseAsync(string name, string holder, TimeSpan atMost, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        var lockedAt = await connection.QuerySingleOrDefaultAsync<DateTime?>(new CommandDefinition(
            """
            INSERT INTO job_locks AS held (name, lock_until, locked_at, locked_by)
            VALUES (@name, clock_timestamp() + @atMost, clock_timestamp(), @holder)
            ON CONFLICT (name) DO UPDATE SET lock_until = EXCLUDED.lock_until, locked_at = EXCLUDED.locked_at, locked_by = EXCLUDED.locked_by
            WHERE held.lock_until <= clock_timestamp()
            RETURNING locked_at
            """, new { name, holder, atMost }, cancellationToken: cancellationToken));
        return lockedAt is { } at ? new Lease(name, holder, at) : null;
    }

    /// <summary>
    /// Ends the lease no earlier than <paramref name="atLeast"/> after it was taken: a fast run keeps the
    /// name held for the rest of that time, so a later tick of another replica still finds it taken.
    /// </summary>
    public async Task ReleaseAsync(Lease lease, TimeSpan atLeast, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(
            """
            UPDATE job_locks SET lock_until = greatest(locked_at + @atLeast, clock_timestamp())
            WHERE name = @Name AND locked_by = @Holder AND locked_at = @LockedAt
            """, new { lease.Name, lease.Holder, lease.LockedAt, atLeast }, cancellationToken: cancellationToken));
    }

    /// <summary>
    /// The duplicate-scheduled-job incident's lock row with no expiry: taken if no row exists, and held
    /// until its holder deletes it — which a holder killed mid-run never does.
    /// </summary>
    public async Task<bool> TryTakeRowWithoutExpiryAsync(string name, string holder, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        return await connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO job_locks (name, lock_until, locked_at, locked_by) VALUES (@name, NULL, clock_timestamp(), @holder)
            ON CONFLICT (name) DO NOTHING
            """, new { name, holder }, cancellationToken: cancellationToken)) == 1;
    }

    public async Task RemoveRowAsync(string name, string holder, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(
            "DELETE FROM job_locks WHERE name = @name AND locked_by = @holder", new { name, holder }, cancellationToken: cancellationToken));
    }
}
