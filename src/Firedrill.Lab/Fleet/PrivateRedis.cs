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

    private readonly Process _process;

    private PrivateRedis(Process process, int port, string password) => (_process, Port, AdminPassword) = (process, port, password);

    public int Port { get; }

    public string AdminPassword { get; }

    public string Address => $"127.0.0.1:{Port}";

    public static async Task<PrivateRedis> StartAsync(string logFile, CancellationToken cancellationToken)
    {
        var port = LoopbackPorts.Free();
        var password = Convert.ToHexString(RandomNumberGenerator.GetBytes(16));
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
        var redis = new PrivateRedis(process, port, password);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!await redis.ListensAsync(cancellationToken))
        {
            if (process.HasExited || DateTime.UtcNow > deadline)
            {
                await redis.DisposeAsync();
                throw new InvalidOperationException($"redis-server did not start on port {port}; see {logFile}.");
            }

            await Task.Delay(20, cancellationToken);
        }

        return redis;
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
        if (!_process.HasExited)
        {
            _process.Kill();
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }
}
