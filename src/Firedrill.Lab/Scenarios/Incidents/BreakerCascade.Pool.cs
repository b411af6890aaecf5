namespace Firedrill.Lab.Scenarios.Incidents;

/// <summary>
/// The shop's database connection pool while inventory is failing, read from Npgsql's own gauges
/// on the replica's <c>/metrics</c> every quarter of a second: how many of its connections are in
/// use and how many requests wait for one. It is expensive-fallback's mechanism itself — the
/// fallback's queries hold the pool's connections and every other request queues behind them —
/// counted in connections and requests, not in how fast the database's CPU runs the query.
/// </summary>
internal sealed partial class BreakerCascade
{
    private static readonly TimeSpan PoolSampleEvery = TimeSpan.FromMilliseconds(250);

    /// <summary>Samples the pool until <paramref name="cancellationToken"/> ends the window; the means over the samples.</summary>
    private static async Task<PoolUse> SamplePoolAsync(HttpClient shop, TimeProvider time, CancellationToken cancellationToken)
    {
        var (samples, used, pending) = (0, 0.0, 0.0);
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                var metrics = await MetricsScrape.ReadAsync(shop, cancellationToken);
                samples++;
                used += metrics.Sum("db_client_connection_count", "db_client_connection_state=\"used\"");
                pending += metrics.Sum("db_client_connection_npgsql_pending_requests");
                await Task.Delay(PoolSampleEvery, time, cancellationToken);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The window ended: the samples so far are the window's.
        }

        return samples == 0 ? new PoolUse(0, 0) : new PoolUse(used / samples, pending / samples);
    }

    /// <summary>Mean connections in use and mean requests waiting for one, over the window.</summary>
    private sealed record PoolUse(double Used, double Waiting);
}
