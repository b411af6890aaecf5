using System.Diagnostics;
using System.Diagnostics.Metrics;
using Firedrill.Shop.Data;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Options;

namespace Firedrill.Shop.WarmUp;

internal enum WarmUpState
{
    Off,
    Pending,
    Running,
    Done,
}

/// <summary>
/// Warms a starting replica before it takes traffic: opens database connections into the pool, then
/// sends itself requests over the hot read paths through its own HTTP pipeline (routing, JSON, the
/// data access code, the product cache, the inventory client), so the first users don't pay for
/// empty pools and caches and code compiled on first use. Readiness waits for it
/// (<see cref="WarmUpHealthCheck"/>). Requests served while it has not finished are counted
/// (<c>firedrill_warmup_requests_served_cold_total</c>).
/// </summary>
internal sealed partial class WarmUpService : BackgroundService
{
    /// <summary>Marks the warm-up's own requests, which are neither users nor cold traffic.</summary>
    public const string Header = "X-Firedrill-Warm-Up";

    private readonly IOptionsMonitor<WarmUpOptions> _options;
    private readonly ShopDatabase _database;
    private readonly IServer _server;
    private readonly IHostApplicationLifetime _lifetime;
    private readonly IHttpClientFactory _clients;
    private readonly TimeProvider _time;
    private readonly ILogger<WarmUpService> _logger;
    private readonly Counter<long> _servedCold;
    private int _sent;
    private volatile string _summary = "not started";
    private volatile WarmUpState _state;

    public WarmUpService(IOptionsMonitor<WarmUpOptions> options, ShopDatabase database, IServer server, IHostApplicationLifetime lifetime,
        IHttpClientFactory clients, TimeProvider time, ILogger<WarmUpService> logger, IMeterFactory meters)
    {
        (_options, _database, _server, _lifetime, _clients, _time, _logger) = (options, database, server, lifetime, clients, time, logger);
        State = options.CurrentValue.Enabled ? WarmUpState.Pending : WarmUpState.Off;
        var meter = meters.Create(Observability.ShopMetrics.MeterName);
        meter.CreateObservableGauge("firedrill.warmup.complete", () => State is WarmUpState.Done or WarmUpState.Off ? 1 : 0, null,
            "1 once this replica has warmed up (or has no warm-up), 0 while it warms.");
        _servedCold = meter.CreateCounter<long>("firedrill.warmup.requests_served_cold", "{request}",
            "Requests from users this replica served before its warm-up had finished: it was put in rotation cold.");
    }

    public WarmUpState State
    {
        get => _state;
        private set => _state = value;
    }

    public string Summary => State == WarmUpState.Off ? "no warm-up" : _summary;

    /// <summary>Counts a user's request that arrived before the warm-up finished.</summary>
    public void ServedRequest()
    {
        if (State is WarmUpState.Pending or WarmUpState.Running)
        {
            _servedCold.Add(1);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (State == WarmUpState.Off)
        {
            return;
        }

        // The replica's own address exists only once the server listens.
        if (!await StartedAsync(stoppingToken))
        {
            return;
        }

        var settings = _options.CurrentValue;
        State = WarmUpState.Running;
        var started = _time.GetTimestamp();
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        bounded.CancelAfter(settings.MaxDuration);
        var failed = 0;
        try
        {
            await FillPoolAsync(settings.Connections, bounded.Token);
            failed = await SendRequestsAsync(settings, bounded.Token);
        }
        catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
        {
            LogCutShort(settings.MaxDuration.TotalSeconds);
        }

        var elapsed = _time.GetElapsedTime(started);
        _summary = $"warm: {settings.Connections} connections, {_sent} requests ({failed} failed) in {elapsed.TotalSeconds:0.00} s";
        State = WarmUpState.Done;
        LogWarm(settings.Connections, _sent, failed, elapsed.TotalMilliseconds);
    }

    private async Task<bool> StartedAsync(CancellationToken stoppingToken)
    {
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var onStarted = _lifetime.ApplicationStarted.Register(() => started.TrySetResult());
        using var onStopping = stoppingToken.Register(() => started.TrySetCanceled(stoppingToken));
        try
        {
            await started.Task;
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>Opens the connections at once and returns them: they stay in the pool, idle and ready.</summary>
    private async Task FillPoolAsync(int connections, CancellationToken cancellationToken)
    {
        _summary = $"warming up: opening {connections} database connections";
        var opened = await Task.WhenAll(Enumerable.Range(0, connections).Select(async _ =>
        {
            var connection = await _database.OpenConnectionAsync(cancellationToken);
            await using var command = connection.CreateCommand();
            command.CommandText = "SELECT 1";
            await command.ExecuteScalarAsync(cancellationToken);
            return connection;
        }));
        foreach (var connection in opened)
        {
            await connection.DisposeAsync();
        }
    }

    private async Task<int> SendRequestsAsync(WarmUpOptions settings, CancellationToken cancellationToken)
    {
        var address = _server.Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault();
        if (address is null || settings.Requests == 0)
        {
            return 0;
        }

        using var client = _clients.CreateClient(nameof(WarmUpService));
        client.BaseAddress = new Uri(address.Replace("://+", "://127.0.0.1", StringComparison.Ordinal).Replace("://*", "://127.0.0.1", StringComparison.Ordinal));
        var failed = 0;
        var next = -1;
        await Task.WhenAll(Enumerable.Range(0, settings.Concurrency).Select(async _ =>
        {
            for (var i = Interlocked.Increment(ref next); i < settings.Requests; i = Interlocked.Increment(ref next))
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, HotPath(i));
                request.Headers.Add(Header, "1");
                using var response = await client.SendAsync(request, cancellationToken);
                if (!response.IsSuccessStatusCode)
                {
                    Interlocked.Increment(ref failed);
                }

                _summary = $"warming up: {Interlocked.Increment(ref _sent)} of {settings.Requests} requests";
            }
        }));
        return failed;
    }

    /// <summary>The read paths users hit most: products, catalogue pages, a customer's orders, availability.</summary>
    private static string HotPath(int i) => (i % 4) switch
    {
        0 => $"/products/{1 + i * 37 % 200}",
        1 => $"/products?page={1 + i % 10}&pageSize=50",
        2 => $"/customers/{1 + i % 100}/orders",
        _ => $"/products/{1 + i % 200}/availability",
    };

    [LoggerMessage(EventId = 7001, Level = LogLevel.Information, Message = "Warmed up: {Connections} database connections, {Requests} requests ({Failed} failed) in {ElapsedMs:0} ms")]
    private partial void LogWarm(int connections, int requests, int failed, double elapsedMs);

    [LoggerMessage(EventId = 7002, Level = LogLevel.Warning, Message = "The warm-up took longer than {MaxSeconds} s and was cut short; the replica becomes ready anyway")]
    private partial void LogCutShort(double maxSeconds);
}
