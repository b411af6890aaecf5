using System.Globalization;
using Firedrill.Lab.Fleet;

namespace Firedrill.Lab.Scenarios.Incidents;

/// <summary>What a DBA or a .NET engineer captures by hand when the database is the suspect, as commands a user can paste.</summary>
internal static class DatabaseEvidence
{
    /// <summary>The run's client sessions (the lab's own psql left out): state, transaction age, last query.</summary>
    public const string Sessions = """
        SELECT pid, application_name AS app, state, date_trunc('milliseconds', now() - xact_start) AS xact_age,
               date_trunc('milliseconds', now() - state_change) AS in_state, left(regexp_replace(query, '\s+', ' ', 'g'), 60) AS last_query
        FROM pg_stat_activity
        WHERE datname = current_database() AND backend_type = 'client backend' AND pid <> pg_backend_pid()
        ORDER BY state, xact_start NULLS LAST LIMIT 24
        """;

    public const string SessionsByState = """
        SELECT application_name AS app, state, count(*) AS sessions, date_trunc('milliseconds', max(now() - xact_start)) AS oldest_xact
        FROM pg_stat_activity
        WHERE datname = current_database() AND backend_type = 'client backend' AND pid <> pg_backend_pid()
        GROUP BY 1, 2 ORDER BY 1, 2
        """;

    /// <summary>
    /// Npgsql's pool gauges and the shop's connection-wait counts from a replica's /metrics (the
    /// shop's pools are named "firedrill-shop REPLICA pool N"; the other one is DbUp's, the migrations').
    /// </summary>
    public static Task<Evidence> PoolMetricsAsync(ScenarioContext context, ServiceProcess shop, string phase, CancellationToken cancellationToken) =>
        context.Evidence.ShellAsync($"Npgsql pool of {shop.Name}, from its /metrics", phase,
            string.Create(CultureInfo.InvariantCulture,
                $"curl -s {shop.Address}metrics | grep -E '^(db_client_connection_(count|max|npgsql_pending_requests|npgsql_timeouts_total)|firedrill_db_connection_wait_time_seconds_count)' | sed -E 's/otel_scope_(name|version)=\"[^\"]*\",?//g'"),
            cancellationToken: cancellationToken);

    /// <summary>A failed response's problem details, then every log line of its trace id across the fleet.</summary>
    /// <param name="command">The request as a user would send it (curl), for the report.</param>
    public static async Task TraceAsync(ScenarioContext context, string phase, FailedResponse? failed, string command, CancellationToken cancellationToken)
    {
        if (failed is null)
        {
            context.Evidence.Add("A failed response", phase, command, "no request failed while the lab was looking");
            return;
        }

        context.Evidence.Add("A failed response", phase, command, $"HTTP {(int)failed.Status} ({failed.Path})\n{failed.Body}");
        // The replicas' log writers flush per line; give the lines of the trace a moment to land.
        await Task.Delay(TimeSpan.FromMilliseconds(300), context.Time, cancellationToken);
        await context.Evidence.FiredrillAsync($"Its trace, {failed.TraceId}", phase, ["trace", failed.TraceId], cancellationToken);
    }
}
