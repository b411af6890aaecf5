using Dapper;
using Firedrill.Shop.Data;

namespace Firedrill.Shop.Features.Jobs;

internal sealed class JobRunStore(ShopDatabase database, TimeProvider time)
{
    public async Task<bool> HasRunAsync(string job, DateTime windowStart, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        return await connection.ExecuteScalarAsync<bool>(new CommandDefinition(
            "SELECT EXISTS (SELECT 1 FROM job_runs WHERE job = @job AND window_start = @windowStart)",
            new { job, windowStart }, cancellationToken: cancellationToken));
    }

    /// <summary>Whether a run of the window has finished (a run still going, or whose replica died, does not count).</summary>
    public async Task<bool> HasFinishedAsync(string job, DateTime windowStart, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        return await connection.ExecuteScalarAsync<bool>(new CommandDefinition(
            "SELECT EXISTS (SELECT 1 FROM job_runs WHERE job = @job AND window_start = @windowStart AND finished_at IS NOT NULL AND status <> 'fenced')",
            new { job, windowStart }, cancellationToken: cancellationToken));
    }

    public async Task<long> StartAsync(string job, DateTime windowStart, string replicaId, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        return await connection.ExecuteScalarAsync<long>(new CommandDefinition(
            """
            INSERT INTO job_runs (job, window_start, replica_id, started_at, status)
            VALUES (@job, @windowStart, @replicaId, @now, 'running') RETURNING id
            """,
            new { job, windowStart, replicaId, now = time.GetUtcNow().UtcDateTime }, cancellationToken: cancellationToken));
    }

    public async Task FinishAsync(long runId, string status, string detail, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(
            "UPDATE job_runs SET finished_at = @now, status = @status, detail = @detail WHERE id = @runId",
            new { runId, status, detail, now = time.GetUtcNow().UtcDateTime }, cancellationToken: cancellationToken));
    }

    public async Task<IReadOnlyList<(long Id, string Sku, int Stock)>> ProductBatchAsync(long batch, int size, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        var total = await connection.ExecuteScalarAsync<long>(new CommandDefinition("SELECT count(*) FROM products", cancellationToken: cancellationToken));
        var offset = total == 0 ? 0 : batch % Math.Max(1, total / size) * size;
        return (await connection.QueryAsync<(long, string, int)>(new CommandDefinition(
            "SELECT id, sku, stock FROM products ORDER BY id LIMIT @size OFFSET @offset",
            new { size, offset }, cancellationToken: cancellationToken))).ToList();
    }
}
