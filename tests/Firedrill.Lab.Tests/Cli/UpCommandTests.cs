using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Firedrill.Lab.Tests.Fleet;
using Firedrill.Lab.Tests.Support;

namespace Firedrill.Lab.Tests.Cli;

/// <summary><c>firedrill up</c> as a script uses it: in a pipe, on known ports, its addresses as JSON.</summary>
[Collection(nameof(FleetGroup))]
public sealed class UpCommandTests
{
    [Fact]
    public async Task Up_JsonOnAPortBaseWhoseFirstPortIsTaken_MovesOnSaysSoAndServes()
    {
        // A base no other test or fleet uses, its first port (the gateway's) held by someone else.
        var (portBase, squatter) = FreePortBase();
        using var held = squatter;

        await using var up = await UpProcess.StartAsync("up", "--replicas", "1", "--json", "--port-base", portBase.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var line = await up.FirstLineAsync(TimeSpan.FromSeconds(90));

        using var json = JsonDocument.Parse(line);
        var root = json.RootElement;
        var gateway = new Uri(root.GetProperty("gateway").GetString()!);
        // The gateway's port was taken, and the next (the inventory's) belongs to the fleet: the one after.
        Assert.Equal(portBase + 2, gateway.Port);
        Assert.Contains($"port {portBase} is taken", up.Errors, StringComparison.Ordinal);
        Assert.Equal(new Uri(root.GetProperty("inventory").GetString()!).Port, portBase + 1);
        Assert.Equal(portBase + 11, new Uri(root.GetProperty("replicas")[0].GetProperty("address").GetString()!).Port);
        foreach (var key in new[] { "api", "prometheus", "kafka", "database", "logs", "lab_token" })
        {
            Assert.False(string.IsNullOrEmpty(root.GetProperty(key).GetString()), key);
        }

        using var client = new HttpClient { BaseAddress = new Uri(root.GetProperty("api").GetString()!) };
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("products/1")).StatusCode);
    }

    [Fact]
    public async Task Up_InAPipe_PrintsEveryAddressWholeOnOneLine()
    {
        var portBase = 20_050 + (Environment.ProcessId % 400) * 100;
        await using var up = await UpProcess.StartAsync("up", "--replicas", "1", "--port-base", portBase.ToString(System.Globalization.CultureInfo.InvariantCulture));

        var output = await up.UntilAsync("Ctrl+C", TimeSpan.FromSeconds(90));

        // Whole on one line each (Spectre wraps at 80 columns when not told otherwise).
        Assert.Matches(@"http://127\.0\.0\.1:\d+/api/ ", output);
        Assert.Matches(@"127\.0\.0\.1:\d+,127\.0\.0\.1:\d+,127\.0\.0\.1:\d+", output);
        Assert.Matches(@"firedrill_run_\d{8}_\d{6}_[0-9a-f]{5}", output);
    }

    /// <summary>A long-running <c>firedrill up</c>: its output read as it comes, killed at the end.</summary>
    private sealed class UpProcess : IAsyncDisposable
    {
        private readonly Process _process;
        private readonly List<string> _lines = [];
        private readonly System.Text.StringBuilder _errors = new();

        private UpProcess(Process process) => _process = process;

        public string Errors
        {
            get
            {
                lock (_errors)
                {
                    return _errors.ToString();
                }
            }
        }

        public static Task<UpProcess> StartAsync(params string[] args)
        {
            var folder = LabDefaults.TempFolder();
            var mine = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
            var dll = Path.Combine(mine.Parent!.Parent!.FullName, "Firedrill.Lab", mine.Name, "firedrill.dll");
            var start = new ProcessStartInfo("dotnet", [dll, .. args]) { WorkingDirectory = folder, RedirectStandardOutput = true, RedirectStandardError = true };
            start.Environment["ConnectionStrings__Postgres"] = Engines.Postgres;
            start.Environment["ConnectionStrings__Redis"] = Engines.Redis;
            start.Environment["FIREDRILL_RUNS"] = folder;
            var up = new UpProcess(Process.Start(start)!);
            up._process.OutputDataReceived += (_, line) => { if (line.Data is not null) { lock (up._lines) { up._lines.Add(line.Data); } } };
            up._process.ErrorDataReceived += (_, line) => { if (line.Data is not null) { lock (up._errors) { up._errors.AppendLine(line.Data); } } };
            up._process.BeginOutputReadLine();
            up._process.BeginErrorReadLine();
            return Task.FromResult(up);
        }

        public async Task<string> FirstLineAsync(TimeSpan timeout)
        {
            await UntilAsync(null, timeout);
            lock (_lines)
            {
                return _lines[0];
            }
        }

        /// <summary>Everything printed on stdout once a line contains <paramref name="marker"/> (null: any line).</summary>
        public async Task<string> UntilAsync(string? marker, TimeSpan timeout)
        {
            var deadline = Stopwatch.StartNew();
            while (deadline.Elapsed < timeout)
            {
                lock (_lines)
                {
                    if (_lines.Any(line => marker is null || line.Contains(marker, StringComparison.Ordinal)))
                    {
                        return string.Join('\n', _lines);
                    }
                }

                Assert.False(_process.HasExited, $"up exited with {(_process.HasExited ? _process.ExitCode : 0)}: {Errors}");
                await Task.Delay(200);
            }

            throw new TimeoutException($"up printed nothing matching '{marker}' within {timeout}: {Errors}");
        }

        public async ValueTask DisposeAsync()
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync();
            }

            _process.Dispose();
        }
    }

    /// <summary>
    /// A port base below Linux's ephemeral range (32768 up, where other processes' connections and
    /// fleets' free ports come from) whose first 20 ports are free, with its first port held.
    /// </summary>
    private static (int PortBase, TcpListener Squatter) FreePortBase()
    {
        for (var attempt = 0; attempt < 120; attempt++)
        {
            var portBase = 20_000 + ((Environment.ProcessId + attempt) % 120) * 100;
            if (Enumerable.Range(portBase + 1, 19).All(IsFree) && TryHold(portBase) is { } squatter)
            {
                return (portBase, squatter);
            }
        }

        throw new InvalidOperationException("no free port base between 20000 and 31999");
    }

    private static bool IsFree(int port) => TryHold(port) is { } listener && Release(listener);

    private static bool Release(TcpListener listener)
    {
        listener.Dispose();
        return true;
    }

    private static TcpListener? TryHold(int port)
    {
        var listener = new TcpListener(IPAddress.Loopback, port);
        try
        {
            listener.Start();
            return listener;
        }
        catch (SocketException)
        {
            listener.Dispose();
            return null;
        }
    }
}
