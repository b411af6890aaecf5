using System.Collections.Concurrent;
using Firedrill.Lab.Load;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Firedrill.Lab.Tests.Load;

/// <summary>
/// A tiny Kestrel app on 127.0.0.1 with endpoints of known behaviour, for measuring the load
/// generator against: /fast, /slow?ms=N, /error (503), /stall (until the client gives up),
/// /gated?ms=N (held while the test closes the gate) and /count?run=KEY (counts arrivals).
/// </summary>
public sealed class LoadTestServer : IAsyncLifetime
{
    private readonly ConcurrentDictionary<string, long> _counts = new(StringComparer.Ordinal);
    private WebApplication? _app;
    private TaskCompletionSource? _gate;
    private long _arrivedWhileClosed;

    public Uri Address { get; private set; } = null!;

    /// <summary>Requests that reached /gated while the gate was closed.</summary>
    public long ArrivedWhileClosed => Interlocked.Read(ref _arrivedWhileClosed);

    public long Count(string run) => _counts.GetValueOrDefault(run);

    /// <summary>Holds every /gated request from now until <see cref="OpenGate"/>.</summary>
    public void CloseGate()
    {
        Interlocked.Exchange(ref _arrivedWhileClosed, 0);
        Volatile.Write(ref _gate, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
    }

    public void OpenGate() => Interlocked.Exchange(ref _gate, null)?.TrySetResult();

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        _app = builder.Build();
        _app.MapGet("/fast", () => "ok");
        _app.MapGet("/slow", async (int ms, CancellationToken ct) =>
        {
            await Task.Delay(ms, ct);
            return "ok";
        });
        _app.MapGet("/error", () => Results.StatusCode(StatusCodes.Status503ServiceUnavailable));
        _app.MapGet("/stall", async (CancellationToken ct) =>
        {
            await Task.Delay(TimeSpan.FromSeconds(30), ct);
            return "too late";
        });
        _app.MapGet("/gated", async (int? ms, CancellationToken ct) =>
        {
            if (Volatile.Read(ref _gate) is { } gate)
            {
                Interlocked.Increment(ref _arrivedWhileClosed);
                await gate.Task.WaitAsync(ct);
            }

            await Task.Delay(ms ?? 0, ct);
            return "ok";
        });
        _app.MapGet("/count", (string run) =>
        {
            _counts.AddOrUpdate(run, 1, (_, count) => count + 1);
            return "ok";
        });
        await _app.StartAsync();
        Address = new Uri(_app.Urls.First());
        await WarmUpAsync();
    }

    /// <summary>JIT-compiles both sides of a request, so the first test measures the generator, not the JIT.</summary>
    private async Task WarmUpAsync()
    {
        using var http = LoadHttpClient.Create(Address);
        var profile = new LoadProfile
        {
            Model = LoadModel.Closed,
            Concurrency = 4,
            Duration = TimeSpan.FromSeconds(5),
            MaxRequests = 200,
            Mix = [new RequestTemplate("warm-up", 1, _ => new HttpRequestMessage(HttpMethod.Get, new Uri("/fast", UriKind.Relative)))],
        };
        await new LoadGenerator(http, TimeProvider.System).RunAsync(profile, null, CancellationToken.None);
        await new LoadGenerator(http, TimeProvider.System).RunAsync(profile with { Model = LoadModel.Open, RatePerSecond = 1000 }, null, CancellationToken.None);
    }

    public async Task DisposeAsync()
    {
        OpenGate();
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
    }
}
