using System.Globalization;
using System.Text.RegularExpressions;
using Npgsql;

namespace Firedrill.Bench.Harness;

public sealed record PgBenchResult(double Tps, double P50Ms, double P99Ms, long Transactions, long Failed, CpuSplit? Cpu);

/// <summary>
/// pgbench (PostgreSQL's own client, C, libpq) running a custom script against a database, with
/// per-transaction logging (<c>-l</c>) for the latency percentiles. No vacuum, no built-in tables.
/// </summary>
internal static partial class PgBench
{
    public static async Task<PgBenchResult> RunAsync(
        string connectionString, string script, int clients, TimeSpan duration, bool prepared, CpuMeter? cpu, CancellationToken cancellationToken,
        IReadOnlyDictionary<string, string>? variables = null)
    {
        var folder = Directory.CreateTempSubdirectory("firedrill-pgbench-").FullName;
        try
        {
            var scriptFile = Path.Combine(folder, "script.sql");
            await File.WriteAllTextAsync(scriptFile, script, cancellationToken);
            var connection = new NpgsqlConnectionStringBuilder(connectionString);
            var arguments = new List<string>
            {
                "-n", "-M", prepared ? "prepared" : "simple", "-c", clients.ToString(CultureInfo.InvariantCulture), "-j", "1",
                "-T", ((int)Math.Round(duration.TotalSeconds)).ToString(CultureInfo.InvariantCulture),
                "-f", scriptFile, "-l", "--log-prefix", Path.Combine(folder, "log"),
            };
            foreach (var (name, value) in variables ?? new Dictionary<string, string>())
            {
                arguments.AddRange(["-D", $"{name}={value}"]);
            }

            arguments.Add(connection.Database!);
            var environment = new Dictionary<string, string>
            {
                ["PGHOST"] = connection.Host!,
                ["PGPORT"] = connection.Port.ToString(CultureInfo.InvariantCulture),
                ["PGUSER"] = connection.Username!,
                ["PGPASSWORD"] = connection.Password ?? "",
                // The shop's own TLS setting, so both sides pay for encryption or neither does.
                ["PGSSLMODE"] = connection.SslMode switch
                {
                    SslMode.Disable => "disable",
                    SslMode.Allow => "allow",
                    SslMode.Require => "require",
                    SslMode.VerifyCA => "verify-ca",
                    SslMode.VerifyFull => "verify-full",
                    _ => "prefer",
                },
            };
            var output = await Tool.RunAsync("pgbench", arguments, duration, cpu, cancellationToken, environment);
            var tps = Tps().Match(output.StandardOutput);
            if (!tps.Success)
            {
                throw new InvalidOperationException($"pgbench printed no tps: {output.StandardOutput} {output.StandardError}");
            }

            // Log lines: client_id transaction_no latency_us script_no epoch epoch_us
            var latencies = Directory.EnumerateFiles(folder, "log*")
                .SelectMany(File.ReadLines)
                .Select(line => line.Split(' '))
                .Where(fields => fields.Length >= 3 && double.TryParse(fields[2], CultureInfo.InvariantCulture, out _))
                .Select(fields => double.Parse(fields[2], CultureInfo.InvariantCulture) / 1000)
                .ToList();
            var failed = Failed().Match(output.StandardOutput) is { Success: true } f ? long.Parse(f.Groups[1].Value, CultureInfo.InvariantCulture) : 0;
            return new PgBenchResult(double.Parse(tps.Groups[1].Value, CultureInfo.InvariantCulture),
                Series.Quantile(latencies, 0.5), Series.Quantile(latencies, 0.99), latencies.Count, failed, output.Cpu);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [GeneratedRegex(@"tps = ([0-9.]+) \(without initial connection time\)")]
    private static partial Regex Tps();

    [GeneratedRegex(@"number of failed transactions: (\d+)")]
    private static partial Regex Failed();
}
