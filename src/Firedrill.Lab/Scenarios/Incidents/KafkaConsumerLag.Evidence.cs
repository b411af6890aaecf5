using System.Diagnostics;
using System.Globalization;
using Dapper;
using Firedrill.Lab.Fleet;
using Npgsql;

namespace Firedrill.Lab.Scenarios.Incidents;

/// <summary>What an operator captures by hand: the group's offsets and assignment, the topic read with kcat, the ledger read with psql.</summary>
internal sealed partial class KafkaConsumerLag
{
    private async Task CaptureGroupAsync(ScenarioContext context, string phase, CancellationToken cancellationToken)
    {
        var bootstrap = context.Fleet.KafkaBootstrapServers;
        await context.Evidence.FiredrillAsync($"Consumer group {Group}: committed offset, log-end offset and lag per partition (admin client)", phase,
            ["kafka-group", "--bootstrap", bootstrap, "--group", Group, "--topic", Topic], cancellationToken);
        var shops = string.Join(' ', context.Fleet.Shops.Select(shop => $"{shop.Name}={shop.Address.ToString().TrimEnd('/')}"));
        await context.Evidence.ShellAsync("Partition assignment per consumer, from each replica's /metrics", phase,
            $"for s in {shops}; do echo \"${{s%%=*}}: $(curl -s ${{s#*=}}/metrics | grep -E '^firedrill_kafka_consumer_(assigned_partitions|assignment)' | tr '\\n' ' ')\"; done",
            cancellationToken: cancellationToken);
        if (phase != Phases.Broken)
        {
            return;
        }

        await context.Evidence.ShellAsync("Events per partition on the topic, read with kcat (count, partition)", phase,
            $"kcat -b {bootstrap} -C -t {Topic} -o beginning -e -q -f '%p\\n' | sort | uniq -c", cancellationToken: cancellationToken);
        if (Chosen.Name == "hot-partition")
        {
            // The operator's next question: which key? One key with most of the events is the hot key.
            await context.Evidence.ShellAsync("The busiest message keys on the topic, read with kcat (count, partition, key)", phase,
                $"kcat -b {bootstrap} -C -t {Topic} -o beginning -e -q -f '%p %k\\n' | sort | uniq -c | sort -rn | head -n 5", cancellationToken: cancellationToken);
        }

        if (Chosen.Name == "rebalance-storm")
        {
            await context.Evidence.ShellAsync("The consumers' own account: leaving the group and new assignments", phase,
                "grep -h -o -E '\"Message\":\"(Left the ledger group|Ledger consumer assigned)[^\"]*\"' logs/shop-*.log | tail -n 12",
                cancellationToken: cancellationToken);
        }
    }

    /// <summary>
    /// The verdict's truth: the topic read from the beginning by kcat (an independent reader, not the
    /// group), against the payments and the ledger in PostgreSQL.
    /// </summary>
    private static async Task<Dictionary<string, double>> ExactlyOnceAsync(ScenarioContext context, CancellationToken cancellationToken)
    {
        var bootstrap = context.Fleet.KafkaBootstrapServers;
        var kcat = $"kcat -b {bootstrap} -C -t {Topic} -o beginning -e -q -f '%h\\n'";
        var (exitCode, output) = await RunAsync(kcat, cancellationToken);
        if (exitCode != 0)
        {
            throw new InvalidOperationException($"kcat could not read the topic (exit {exitCode}): {output.Trim()}; is kcat installed (eng/engines.sh installs it)?");
        }

        var onTopic = output.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(EventIdOf).OfType<string>().ToHashSet(StringComparer.Ordinal);
        await using var connection = new NpgsqlConnection(context.Fleet.DatabaseConnection);
        await connection.OpenAsync(cancellationToken);
        var ledger = (await connection.QueryAsync<(string EventId, long Rows)>(new CommandDefinition(
            "SELECT event_id, count(*) FROM ledger GROUP BY event_id", cancellationToken: cancellationToken))).ToDictionary(row => row.EventId, row => row.Rows);
        var payments = (await connection.QueryAsync<long>(new CommandDefinition("SELECT id FROM payments", cancellationToken: cancellationToken)))
            .Select(id => $"payment-accepted-{id}").ToList();

        var signals = new Dictionary<string, double>
        {
            ["events_on_topic"] = onTopic.Count,
            ["payments_accepted"] = payments.Count,
            ["payments_not_on_topic"] = payments.Count(id => !onTopic.Contains(id)),
            ["events_not_applied"] = onTopic.Count(id => !ledger.ContainsKey(id)),
            ["events_applied_twice"] = ledger.Values.Count(rows => rows > 1),
            ["ledger_rows_not_on_topic"] = ledger.Keys.Count(id => !onTopic.Contains(id)),
        };
        context.Evidence.Add("Every event applied exactly once: the topic read by kcat against the ledger", Phases.Fixed,
            $"{kcat} | grep -o 'event-id=[^,]*' | sort -u | wc -l; {context.Evidence.PsqlCommand} -c 'SELECT count(*) AS rows, count(DISTINCT event_id) AS events FROM ledger'",
            string.Join('\n', signals.Select(signal => $"{signal.Key,-26} {signal.Value.ToString(CultureInfo.InvariantCulture)}")));
        await context.Evidence.PsqlAsync("The ledger against the payments (after the backlog drained)", Phases.Fixed,
            """
            SELECT (SELECT count(*) FROM payments) AS payments, (SELECT count(*) FROM ledger) AS ledger_rows,
                   (SELECT count(DISTINCT event_id) FROM ledger) AS distinct_events,
                   (SELECT count(*) FROM (SELECT 1 FROM ledger GROUP BY event_id HAVING count(*) > 1) AS twice) AS applied_twice
            """, cancellationToken);
        return signals;
    }

    private static string? EventIdOf(string headers)
    {
        foreach (var header in headers.Split(','))
        {
            if (header.StartsWith("event-id=", StringComparison.Ordinal))
            {
                return header["event-id=".Length..].Trim();
            }
        }

        return null;
    }

    /// <summary>Runs a shell command and keeps all it printed (the evidence keeps only its head).</summary>
    private static async Task<(int ExitCode, string Output)> RunAsync(string command, CancellationToken cancellationToken)
    {
        using var process = Process.Start(new ProcessStartInfo("bash", ["-c", command]) { RedirectStandardOutput = true, RedirectStandardError = true })
            ?? throw new InvalidOperationException($"could not start: {command}");
        var output = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var error = process.StandardError.ReadToEndAsync(cancellationToken);
        using var bound = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bound.CancelAfter(TimeSpan.FromSeconds(30));
        await process.WaitForExitAsync(bound.Token);
        return (process.ExitCode, await output + await error);
    }
}
