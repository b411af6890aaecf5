using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;

namespace Firedrill.Lab.Fleet;

/// <summary>
/// A Redis of the fleet's own (Debian's <c>redis-server</c>, on a free loopback port, nothing
/// persisted) whose password-less <c>default</c> user is off. A fleet that cuts one replica off
/// Redis needs it: StackExchange.Redis keeps a connection whose AUTH failed, and on a Redis whose
/// default user has no password (the shared one) that connection simply is the default user, so
/// disabling the replica's user would cut nothing. Here the lab administers it as <c>lab</c>.
/// It stops with the fleet, and with the lab if the lab is killed.
/// </summary>
public sealed class PrivateRedis : IAsyncDisposable
{
    public const string AdminUser = "lab";

    private readonly string _logFile;
    private Process _process;
    private bool _disposed;

    private PrivateRedis(Process process, int port, string password, string logFile) =>
        (_process, Port, AdminPassword, _logFile) = (process, port, password, logFile);

    public int Port { get; }

    public string AdminPassword { get; }

    public string Address => $"127.0.0.1:{Port}";

    /// <summary>A StackExchange.Redis configuration string for the <c>lab</c> user.</summary>
    public string AdminConnection => $"{Address},user={AdminUser},password={AdminPassword}";

    /// <summary>The server's process id, for a fault's evidence.</summary>
    public int Pid => _process.Id;

    public static async Task<PrivateRedis> StartAsync(string logFile, CancellationToken cancellationToken)
    {
        var port = LoopbackPorts.Free();
        var password = Convert.ToHexString(RandomNumberGenerator.GetBytes(16));
        var redis = new PrivateRedis(Launch(port, password, logFile), port, password, logFile);
        try
        {
            await redis.WaitListeningAsync(cancellationToken);
            return redis;
        }
        catch
        {
            await redis.DisposeAsync();
            throw;
        }
    }

    /// <summary>Kills the server (SIGKILL, as a crash or an OOM kill: no shutdown, nothing saved); connections are refused until <see cref="StartAgainAsync"/>.</summary>
    public async Task KillAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            await _process.WaitForExitAsync();
        }
    }

    /// <summary>
    /// Starts the server again on the same port and with the same users, empty (nothing was
    /// persisted). If it does not come up (another process took the port meanwhile, say), the
    /// error names the port and the log; the fleet still disposes it.
    /// </summary>
    public async Task StartAgainAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        await KillAsync();
        var old = _process;
        _process = Launch(Port, AdminPassword, _logFile);
        old.Dispose();
        await WaitListeningAsync(cancellationToken);
    }

    private static Process Launch(int port, string password, string logFile)
    {
        var start = new ProcessStartInfo("redis-server",
        [
            "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--logfile", logFile, "--user", "default", "off", "--user", AdminUser, "on", $">{password}", "~*", "&*", "+@all",
        ])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        var process = Process.Start(start) ?? throw new InvalidOperationException("Could not start redis-server.");
        Prometheus.LabWatch.StopWhenLabDies(process.Id);
        return process;
    }

    private async Task WaitListeningAsync(CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!await ListensAsync(cancellationToken))
        {
            if (_process.HasExited || DateTime.UtcNow > deadline)
            {
                await KillAsync();
                throw new InvalidOperationException($"redis-server did not start on port {Port}; see {_logFile}.");
            }

            await Task.Delay(20, cancellationToken);
        }
    }

    private async Task<bool> ListensAsync(CancellationToken cancellationToken)
    {
        try
        {
            using var client = new TcpClient();
            await client.ConnectAsync(IPAddress.Loopback, Port, cancellationToken);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        await KillAsync();
        _process.Dispose();
    }
}
