using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Firedrill.Lab.Prometheus;

/// <summary>
/// A Prometheus the lab spawns for one run: the Debian binary on a free loopback port, its TSDB
/// and log in the run folder, scraping every second the targets of a file-based discovery file
/// the lab rewrites as the fleet changes. Disposing kills it.
/// </summary>
public sealed class PrometheusServer : IAsyncDisposable
{
    private const int StartAttempts = 3;
    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(20);
    private static readonly TimeSpan ExitTimeout = TimeSpan.FromSeconds(10);

    private readonly Process _process;
    private readonly ProcessLog _log;
    private readonly string _targetsFile;
    private readonly EventHandler _killOnExit;
    private int _disposed;

    private PrometheusServer(Process process, ProcessLog log, Uri address, string targetsFile)
    {
        _process = process;
        _log = log;
        _targetsFile = targetsFile;
        Address = address;
        // A safety net for a lab that exits without disposing (an unhandled exception, SIGTERM):
        // an orphaned Prometheus would keep its port and keep scraping a dead fleet.
        _killOnExit = (_, _) => Kill();
        AppDomain.CurrentDomain.ProcessExit += _killOnExit;
    }

    /// <summary>The HTTP API and UI, e.g. <c>http://127.0.0.1:41234/</c>.</summary>
    public Uri Address { get; }

    internal int ProcessId => _process.Id;

    /// <param name="port">Where it listens first; null (and after a lost race for it): any free port.</param>
    public static Task<PrometheusServer> StartAsync(string runFolder, IReadOnlyList<ScrapeTarget> targets, CancellationToken ct, int? port = null) =>
        StartAsync(runFolder, targets, binary: null, ct, port);

    /// <param name="binary">The prometheus executable; <c>null</c> looks on PATH, then /usr/bin.</param>
    internal static async Task<PrometheusServer> StartAsync(string runFolder, IReadOnlyList<ScrapeTarget> targets, string? binary, CancellationToken ct, int? preferredPort = null)
    {
        var executable = PrometheusBinary.Resolve(binary);
        runFolder = Path.GetFullPath(runFolder);
        var storage = Path.Combine(runFolder, "prometheus");
        var logs = Path.Combine(runFolder, "logs");
        Directory.CreateDirectory(storage);
        Directory.CreateDirectory(logs);

        // Beside the TSDB, not in it: the TSDB folder is Prometheus's alone.
        var targetsFile = Path.Combine(runFolder, "prometheus-targets.json");
        var configFile = Path.Combine(runFolder, "prometheus.yml");
        await PrometheusConfig.WriteTargetsAsync(targetsFile, targets, ct);
        await File.WriteAllTextAsync(configFile, PrometheusConfig.Yaml(targetsFile), ct);

        var log = ProcessLog.Open(Path.Combine(logs, "prometheus.log"));
        try
        {
            // The free port is only free until someone else binds it; a lost race shows as an early exit, so retry.
            for (var attempt = 1; ; attempt++)
            {
                var port = attempt == 1 && preferredPort is { } preferred ? preferred : Fleet.LoopbackPorts.Free();
                var process = Spawn(executable, configFile, runFolder, storage, port, log);
                var server = new PrometheusServer(process, log, new Uri($"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}/"), targetsFile);
                try
                {
                    if (await server.WaitUntilReadyAsync(ct))
                    {
                        return server;
                    }
                }
                catch
                {
                    await server.StopAsync(closeLog: true);
                    throw;
                }

                int? exitCode = process.HasExited ? process.ExitCode : null;
                await server.StopAsync(closeLog: false);
                if (exitCode is null || attempt == StartAttempts)
                {
                    var reason = exitCode is null ? $"it was not ready within {ReadyTimeout.TotalSeconds:0} s" : $"it exited with code {exitCode}";
                    throw new InvalidOperationException($"Prometheus did not start ({reason}); see {log.Path}. Last output: {log.LastLine}");
                }
            }
        }
        catch
        {
            log.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Replaces the scraped targets, without a restart. Prometheus 2.42 batches discovery updates
    /// every 5 s, so a new target's first samples arrive 5–10 s later (the first targets too, after
    /// start): wait for its <c>up</c> series before measuring.
    /// </summary>
    public Task UpdateTargetsAsync(IReadOnlyList<ScrapeTarget> targets, CancellationToken ct)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        return PrometheusConfig.WriteTargetsAsync(_targetsFile, targets, ct);
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            await StopAsync(closeLog: true);
        }
    }

    private static Process Spawn(string executable, string configFile, string runFolder, string storage, int port, ProcessLog log)
    {
        var start = new ProcessStartInfo(executable)
        {
            WorkingDirectory = runFolder,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add($"--config.file={configFile}");
        start.ArgumentList.Add($"--storage.tsdb.path={storage}");
        start.ArgumentList.Add($"--web.listen-address=127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}");

        var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, line) => log.Write(line.Data);
        process.ErrorDataReceived += (_, line) => log.Write(line.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        // Prometheus is not ours to change: a watcher stops it if the lab dies without disposing it.
        LabWatch.StopWhenLabDies(process.Id);
        return process;
    }

    /// <returns>false if the process exited or did not become ready in time.</returns>
    private async Task<bool> WaitUntilReadyAsync(CancellationToken ct)
    {
        // No IHttpClientFactory here: a static start-up probe of a process this class owns, used once.
        using var http = new HttpClient { BaseAddress = Address, Timeout = TimeSpan.FromSeconds(2) };
        var started = TimeProvider.System.GetTimestamp();
        while (!_process.HasExited && TimeProvider.System.GetElapsedTime(started) < ReadyTimeout)
        {
            try
            {
                using var response = await http.GetAsync(new Uri("-/ready", UriKind.Relative), ct);
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return true;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }
            catch (TaskCanceledException) when (!ct.IsCancellationRequested)
            {
                // The probe's own timeout; try again.
            }

            await Task.Delay(TimeSpan.FromMilliseconds(50), ct);
        }

        return false;
    }

    private async Task StopAsync(bool closeLog)
    {
        AppDomain.CurrentDomain.ProcessExit -= _killOnExit;
        // SIGKILL loses nothing the report needs: samples are in the WAL, which the page cache keeps.
        Kill();
        using (var timeout = new CancellationTokenSource(ExitTimeout))
        {
            try
            {
                // Also waits for the end of its redirected output, so the log is complete.
                await _process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                _log.Write($"firedrill: prometheus (pid {_process.Id}) did not exit within {ExitTimeout.TotalSeconds:0} s of SIGKILL");
            }
        }

        _process.Dispose();
        if (closeLog)
        {
            _log.Dispose();
        }
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
