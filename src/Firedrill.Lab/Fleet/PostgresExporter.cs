using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Firedrill.Lab.Prometheus;
using Npgsql;

namespace Firedrill.Lab.Fleet;

/// <summary>
/// The fleet's <c>postgres_exporter</c> (the Debian binary, what a database team's dashboards
/// read): spawned on a free loopback port against the run's database, scraped by the fleet's
/// Prometheus, stopped with the fleet. Besides its defaults (<c>pg_stat_activity_count</c>,
/// <c>pg_locks_count</c>, <c>pg_stat_database_*</c>) it runs the queries of
/// <c>postgres-exporter-queries.yaml</c>, scoped to the run's database. Like Prometheus it never
/// outlives the lab: disposing kills it, and a watcher kills it if the lab dies.
/// </summary>
public sealed class PostgresExporter : IAsyncDisposable
{
    public const string ServiceName = "postgres-exporter";
    private const string DebianPath = "/usr/bin/prometheus-postgres-exporter";
    private const int StartAttempts = 3;
    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(15);

    private readonly Process _process;
    private readonly ProcessLog _log;
    private readonly EventHandler _killOnExit;
    private int _disposed;

    private PostgresExporter(Process process, ProcessLog log, int port)
    {
        (_process, _log) = (process, log);
        Address = $"127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}";
        _killOnExit = (_, _) => Kill();
        AppDomain.CurrentDomain.ProcessExit += _killOnExit;
    }

    /// <summary><c>host:port</c>, its metrics at <c>/metrics</c>.</summary>
    public string Address { get; }

    public int Pid => _process.Id;

    /// <param name="port">Where it listens first; null (and after a lost race for it): any free port.</param>
    public static async Task<PostgresExporter> StartAsync(string databaseConnection, string runFolder, CancellationToken cancellationToken, int? port = null)
    {
        var executable = File.Exists(DebianPath) ? DebianPath
            : throw new FileNotFoundException($"prometheus-postgres-exporter is not installed ({DebianPath}); run eng/engines.sh, which installs it (apt-get install -y prometheus-postgres-exporter).");
        runFolder = Path.GetFullPath(runFolder);
        Directory.CreateDirectory(Path.Combine(runFolder, "logs"));
        var queries = Path.Combine(runFolder, "postgres-exporter-queries.yaml");
        await using (var resource = typeof(PostgresExporter).Assembly.GetManifestResourceStream("postgres-exporter-queries.yaml")!)
        await using (var file = File.Create(queries))
        {
            await resource.CopyToAsync(file, cancellationToken);
        }

        var log = ProcessLog.Open(Path.Combine(runFolder, "logs", ServiceName + ".log"));
        try
        {
            // The free port is only free until someone else binds it; a lost race shows as an early exit, so retry.
            for (var attempt = 1; ; attempt++)
            {
                var listen = attempt == 1 && port is { } preferred ? preferred : LoopbackPorts.Free();
                var exporter = new PostgresExporter(Spawn(executable, DataSourceName(databaseConnection), queries, listen, runFolder, log), log, listen);
                if (await exporter.WaitUntilReadyAsync(cancellationToken))
                {
                    return exporter;
                }

                var exited = exporter._process.HasExited;
                await exporter.StopAsync();
                if (!exited || attempt == StartAttempts)
                {
                    throw new InvalidOperationException($"postgres_exporter did not start ({(exited ? "it exited" : $"not ready within {ReadyTimeout.TotalSeconds:0} s")}); see {log.Path}. Last output: {log.LastLine}");
                }
            }
        }
        catch
        {
            log.Dispose();
            throw;
        }
    }

    /// <summary>The exporter's DSN: a URL, the password percent-encoded, TLS as the shop uses it.</summary>
    internal static string DataSourceName(string connectionString)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        var ssl = builder.SslMode == SslMode.Disable ? "disable" : "prefer";
        return $"postgresql://{Uri.EscapeDataString(builder.Username ?? "")}:{Uri.EscapeDataString(builder.Password ?? "")}@{builder.Host}:{builder.Port.ToString(CultureInfo.InvariantCulture)}/{Uri.EscapeDataString(builder.Database ?? "")}?sslmode={ssl}";
    }

    private static Process Spawn(string executable, string dataSourceName, string queries, int port, string runFolder, ProcessLog log)
    {
        var start = new ProcessStartInfo(executable)
        {
            WorkingDirectory = runFolder,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        // In the environment, not on the command line: ps would show the password.
        start.Environment["DATA_SOURCE_NAME"] = dataSourceName;
        start.ArgumentList.Add($"--web.listen-address=127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}");
        start.ArgumentList.Add($"--extend.query-path={queries}");
        start.ArgumentList.Add("--log.level=warn");
        // The database-size collector walks every database's files each scrape: with million-order
        // copies on the server it cost 60 ms a second per fleet, for a number no runbook reads.
        start.ArgumentList.Add("--no-collector.database");
        var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, line) => log.Write(line.Data);
        process.ErrorDataReceived += (_, line) => log.Write(line.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        LabWatch.StopWhenLabDies(process.Id);
        return process;
    }

    /// <returns>true once <c>/metrics</c> answers with <c>pg_up 1</c>: listening and connected.</returns>
    private async Task<bool> WaitUntilReadyAsync(CancellationToken cancellationToken)
    {
        // No IHttpClientFactory: a start-up probe of a process this class owns.
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var started = TimeProvider.System.GetTimestamp();
        while (!_process.HasExited && TimeProvider.System.GetElapsedTime(started) < ReadyTimeout)
        {
            try
            {
                var metrics = await http.GetStringAsync(new Uri($"http://{Address}/metrics"), cancellationToken);
                if (metrics.Contains("\npg_up 1", StringComparison.Ordinal))
                {
                    return true;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }
            catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                // The probe's own timeout; try again.
            }

            await Task.Delay(TimeSpan.FromMilliseconds(50), cancellationToken);
        }

        return false;
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            await StopAsync();
            _log.Dispose();
        }
    }

    private async Task StopAsync()
    {
        AppDomain.CurrentDomain.ProcessExit -= _killOnExit;
        Kill();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            await _process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            _log.Write($"firedrill: postgres_exporter (pid {_process.Id}) did not exit within 10 s of SIGKILL");
        }

        _process.Dispose();
    }

    private void Kill()
    {
        try
        {
            _process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // Already exited.
        }
    }
}
