using System.Collections.Concurrent;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Firedrill.Gateway.Tests.Support;

/// <summary>
/// A stand-in shop replica on a real Kestrel bound to loopback (as YARP's functional tests do):
/// it echoes what it received, has a slow endpoint, and a readiness the test can flip.
/// </summary>
public sealed class Backend : IAsyncDisposable
{
    public static readonly TimeSpan SlowDelay = TimeSpan.FromSeconds(5);

    private readonly WebApplication _app;
    private readonly ConcurrentQueue<string> _paths = new();
    private volatile bool _ready = true;

    private Backend(string name, WebApplication app)
    {
        Name = name;
        _app = app;
    }

    public string Name { get; }

    public string Address => _app.Urls.Single();

    /// <summary>What <c>/health/ready</c> answers: 200 when true, 503 when false.</summary>
    public bool Ready
    {
        get => _ready;
        set => _ready = value;
    }

    /// <summary>Requests that reached a handler, health probes excluded.</summary>
    public int Requests => _paths.Count;

    public IReadOnlyCollection<string> Paths => _paths;

    public static async Task<Backend> StartAsync(string name)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel(options =>
        {
            options.Listen(IPAddress.Loopback, 0);
            // Above the gateway's ceiling, so header limits are the gateway's alone.
            options.Limits.MaxRequestHeadersTotalSize = 512 * 1024;
        });
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var backend = new Backend(name, app);

        app.MapGet("/health/ready", () => backend.Ready ? Results.Ok() : Results.StatusCode(StatusCodes.Status503ServiceUnavailable));
        app.MapGet("/slow", async (HttpContext context) =>
        {
            backend._paths.Enqueue(context.Request.Path);
            await Task.Delay(SlowDelay, context.RequestAborted);
            return Results.Ok(new Echo(name, context.Request.Path, "", [], 0));
        });
        app.MapGet("/status/{code:int}", async (HttpContext context, int code) =>
        {
            // An error with an empty, chunked body: nothing for the gateway to mistake for its own answer.
            backend._paths.Enqueue(context.Request.Path);
            context.Response.StatusCode = code;
            await context.Response.StartAsync(context.RequestAborted);
        });
        app.Map("/{**rest}", async (HttpContext context) =>
        {
            backend._paths.Enqueue(context.Request.Path);
            var length = 0L;
            var buffer = new byte[8192];
            int read;
            while ((read = await context.Request.Body.ReadAsync(buffer, context.RequestAborted)) > 0)
            {
                length += read;
            }

            var headers = context.Request.Headers.ToDictionary(header => header.Key, header => header.Value.ToString(), StringComparer.OrdinalIgnoreCase);
            return Results.Ok(new Echo(name, context.Request.Path, context.Request.QueryString.Value ?? "", headers, length));
        });

        await app.StartAsync();
        return backend;
    }

    public ValueTask DisposeAsync() => _app.DisposeAsync();
}

/// <summary>What a backend saw.</summary>
public sealed record Echo(string Backend, string Path, string Query, Dictionary<string, string> Headers, long BodyLength);
