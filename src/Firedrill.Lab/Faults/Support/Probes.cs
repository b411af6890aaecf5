using System.Net;
using Dapper;
using Firedrill.Lab.Fleet;
using Npgsql;

namespace Firedrill.Lab.Faults.Support;

/// <summary>What the lab reads from outside the shop while a fault runs: readiness as an orchestrator probes it, rows as a DBA counts them.</summary>
internal static class Probes
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(1) };

    /// <summary>Replicas answering 200 on /health/ready within a second (a replacement still starting, not yet listening, is not ready).</summary>
    public static async Task<double> ReadyReplicasAsync(LabFleet fleet, CancellationToken cancellationToken)
    {
        var ready = await Task.WhenAll(fleet.Shops.ToList().Select(shop => shop.IsListening ? IsReadyAsync(shop.Address, cancellationToken) : Task.FromResult(false)));
        return ready.Count(ok => ok);
    }

    public static async Task<bool> IsReadyAsync(Uri service, CancellationToken cancellationToken)
    {
        try
        {
            using var response = await Http.GetAsync(new Uri(service, "/health/ready"), cancellationToken);
            return response.StatusCode == HttpStatusCode.OK;
        }
        catch (Exception ex) when (ex is HttpRequestException || (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            return false;
        }
    }

    /// <summary>The overall status a replica's /health/ready reports (Healthy, Degraded, Unhealthy), or "unreachable" (not listening yet, or no answer within a second).</summary>
    public static async Task<string> ReadinessStatusAsync(ServiceProcess service, CancellationToken cancellationToken)
    {
        if (!service.IsListening)
        {
            return "unreachable";
        }

        try
        {
            using var response = await Http.GetAsync(new Uri(service.Address, "/health/ready"), cancellationToken);
            using var report = System.Text.Json.JsonDocument.Parse(await response.Content.ReadAsStringAsync(cancellationToken));
            return report.RootElement.TryGetProperty("status", out var status) ? status.GetString() ?? "unknown" : "unknown";
        }
        catch (Exception ex) when (ex is HttpRequestException or System.Text.Json.JsonException
            || (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            return "unreachable";
        }
    }

    /// <summary>A number read with SQL (a count, a sum) from the run's database.</summary>
    public static async Task<double> ScalarAsync(string database, string sql, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(database);
        await connection.OpenAsync(cancellationToken);
        return await connection.ExecuteScalarAsync<double>(new CommandDefinition(sql, cancellationToken: cancellationToken));
    }

    /// <summary>A reading turned into a rate per second between two calls (the first call gives 0).</summary>
    public static Func<CancellationToken, Task<double>> PerSecond(Func<CancellationToken, Task<double>> total)
    {
        double? previous = null;
        var at = System.Diagnostics.Stopwatch.GetTimestamp();
        return async token =>
        {
            var value = await total(token);
            var now = System.Diagnostics.Stopwatch.GetTimestamp();
            var rate = previous is { } before ? (value - before) / Math.Max(0.001, System.Diagnostics.Stopwatch.GetElapsedTime(at, now).TotalSeconds) : 0;
            (previous, at) = (value, now);
            return Math.Round(rate, 1);
        };
    }
}
