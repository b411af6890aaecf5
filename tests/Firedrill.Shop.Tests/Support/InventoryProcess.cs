using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Firedrill.Shop.Tests.Support;

/// <summary>
/// The inventory service as a real process on a loopback port, started from its built output,
/// in lab mode so tests turn its knobs through its own /_lab/config.
/// </summary>
public sealed class InventoryProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly HttpClient _client;
    private readonly string _token;

    private InventoryProcess(Process process, Uri address, string token)
    {
        _process = process;
        _token = token;
        Address = address;
        _client = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(30) };
    }

    public Uri Address { get; }

    public HttpClient Client => _client;

    public static async Task<InventoryProcess> StartAsync(IDictionary<string, string>? settings = null)
    {
        var port = FreePort();
        var token = ServiceHost.NewToken();
        var dll = Path.Combine(BuildOutput("Firedrill.Inventory"), "Firedrill.Inventory.dll");
        var start = new ProcessStartInfo("dotnet", [dll, "--urls", $"http://127.0.0.1:{port}"])
        {
            WorkingDirectory = Path.GetDirectoryName(dll)!,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.Environment["Lab__Enabled"] = "true";
        start.Environment["Lab__Token"] = token;
        start.Environment["Logging__LogLevel__Default"] = "Warning";
        foreach (var (key, value) in settings ?? new Dictionary<string, string>())
        {
            start.Environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;
        }

        var process = Process.Start(start)!;
        // Drain its output so a chatty process never blocks on a full pipe.
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var inventory = new InventoryProcess(process, new Uri($"http://127.0.0.1:{port}"), token);
        if (!await Poll.UntilAsync(inventory.IsLiveAsync, TimeSpan.FromSeconds(30)))
        {
            await inventory.DisposeAsync();
            throw new InvalidOperationException($"The inventory process at {inventory.Address} did not become live.");
        }

        return inventory;
    }

    /// <summary>Sets inventory knobs, e.g. <c>{"Inventory:LatencyMs": 500}</c>.</summary>
    public Task SetAsync(string json) => LabClient.SetAsync(_client, _token, json);

    /// <summary>Requests the service received so far, by outcome, from its own /metrics.</summary>
    public async Task<double> RequestsAsync(string outcome)
    {
        var metrics = await _client.GetStringAsync("/metrics");
        return metrics.Split('\n')
            .Where(line => line.StartsWith("firedrill_inventory_requests_total{", StringComparison.Ordinal) && line.Contains($"outcome=\"{outcome}\"", StringComparison.Ordinal))
            .Sum(line => double.Parse(line[(line.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture));
    }

    private async Task<bool> IsLiveAsync()
    {
        try
        {
            return (await _client.GetAsync("/health/live")).StatusCode == HttpStatusCode.OK;
        }
        catch (HttpRequestException)
        {
            return false;
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>artifacts/bin/{project}/{configuration}, beside this test assembly's own folder.</summary>
    private static string BuildOutput(string project)
    {
        var mine = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        return Path.Combine(mine.Parent!.Parent!.FullName, project, mine.Name);
    }

    public async ValueTask DisposeAsync()
    {
        _client.Dispose();
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }
}
