using System.Diagnostics;
using Firedrill.Lab.Prometheus;

namespace Firedrill.Lab.Tests.Prometheus;

public sealed class PrometheusServerTests
{
    [Fact]
    public async Task UpdateTargetsAsync_SecondApp_ItsSeriesAppear()
    {
        using var folder = new TempFolder();
        await using var first = await MetricsApp.StartAsync();
        await using var second = await MetricsApp.StartAsync();
        second.Increment(3);
        await using var server = await PrometheusServer.StartAsync(folder.Path, [first.Target("first")], CancellationToken.None);
        using var http = new HttpClient { BaseAddress = server.Address };
        var client = new PromQlClient(http);

        await server.UpdateTargetsAsync([first.Target("first"), second.Target("second")], CancellationToken.None);

        // Prometheus 2.42 batches discovery updates every 5 s, so a change takes up to ~10 s to show.
        double? value = null;
        var seen = await Poll.UntilAsync(
            async () => (value = await client.QueryScalarAsync("test_requests_total{job=\"second\", replica=\"1\"}", at: null, CancellationToken.None)) == 3,
            TimeSpan.FromSeconds(20),
            TimeSpan.FromMilliseconds(250));
        Assert.True(seen, $"the second app's series was {value?.ToString() ?? "absent"}, expected 3");
    }

    [Fact]
    public async Task DisposeAsync_RunningServer_LeavesNoProcessAndKeepsItsLog()
    {
        using var folder = new TempFolder();
        var server = await PrometheusServer.StartAsync(folder.Path, [], CancellationToken.None);
        var pid = server.ProcessId;
        Assert.False(HasExited(pid));

        await server.DisposeAsync();

        Assert.True(HasExited(pid), $"prometheus (pid {pid}) is still running");
        var log = await File.ReadAllTextAsync(Path.Combine(folder.Path, "logs", "prometheus.log"));
        Assert.Contains("Server is ready to receive web requests", log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task StartAsync_MissingBinary_ThrowsPrometheusNotFoundWithInstallCommand()
    {
        using var folder = new TempFolder();
        var missing = Path.Combine(folder.Path, "no-such-dir", "prometheus");

        var exception = await Assert.ThrowsAsync<PrometheusNotFoundException>(
            () => PrometheusServer.StartAsync(folder.Path, [], missing, CancellationToken.None));

        Assert.StartsWith("prometheus is not installed", exception.Message, StringComparison.Ordinal);
        Assert.Contains("apt-get install -y prometheus", exception.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', exception.Message);
    }

    private static bool HasExited(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return process.HasExited;
        }
        catch (ArgumentException)
        {
            return true;
        }
    }
}
