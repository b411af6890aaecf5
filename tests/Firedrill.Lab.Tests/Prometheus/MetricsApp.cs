using System.Globalization;
using Firedrill.Lab.Prometheus;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Firedrill.Lab.Tests.Prometheus;

/// <summary>A scrape target on a real loopback Kestrel: <c>/metrics</c> with one counter the test moves.</summary>
internal sealed class MetricsApp : IAsyncDisposable
{
    private readonly WebApplication _app;
    private long _requests;

    private MetricsApp(WebApplication app)
    {
        _app = app;
        _app.MapGet("/metrics", () => Results.Text(
            "# HELP test_requests_total Requests the test made.\n# TYPE test_requests_total counter\n" +
            $"test_requests_total {Interlocked.Read(ref _requests).ToString(CultureInfo.InvariantCulture)}\n",
            "text/plain; version=0.0.4"));
    }

    /// <summary>Where Kestrel listens, known once started (port 0 picks a free one).</summary>
    public Uri Address => new(_app.Urls.First());

    public static async Task<MetricsApp> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var metrics = new MetricsApp(builder.Build());
        await metrics._app.StartAsync();
        return metrics;
    }

    public void Increment(long by = 1) => Interlocked.Add(ref _requests, by);

    public ScrapeTarget Target(string job) =>
        new(job, $"{Address.Host}:{Address.Port.ToString(CultureInfo.InvariantCulture)}", new Dictionary<string, string> { ["replica"] = "1" });

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
