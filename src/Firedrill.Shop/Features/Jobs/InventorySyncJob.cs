using System.Diagnostics.Metrics;
using Firedrill.ServiceDefaults.Options;
using Firedrill.ServiceDefaults.Telemetry;
using Firedrill.Shop.Data;
using Firedrill.Shop.Features.Inventory;
using Medallion.Threading.Postgres;
using Microsoft.Extensions.Options;

namespace Firedrill.Shop.Features.Jobs;

/// <summary>
/// "Inventory sync": once per window, compares a batch of products' stock with the inventory
/// service and records the drift. Every replica runs this schedule; the PostgreSQL advisory
/// lock (DistributedLock.Postgres) plus the window's row in <c>job_runs</c> make one replica
/// run each window — the lock says "one at a time", the row says "once per window" (ShedLock's
/// lock-at-least). A killed runner's lock dies with its session, so the next window still runs.
/// </summary>
internal sealed partial class InventorySyncJob : BackgroundService
{
    public const string JobName = "inventory-sync";

    private readonly ShopDatabase _database;
    private readonly JobRunStore _runs;
    private readonly IServiceScopeFactory _scopes;
    private readonly IOptionsMonitor<JobsOptions> _options;
    private readonly TimeProvider _time;
    private readonly string _replicaId;
    private readonly Counter<long> _executions;
    private readonly ILogger<InventorySyncJob> _logger;

    public InventorySyncJob(ShopDatabase database, JobRunStore runs, IServiceScopeFactory scopes, IOptionsMonitor<JobsOptions> options,
        TimeProvider time, ServiceIdentity service, IMeterFactory meters, ILogger<InventorySyncJob> logger)
    {
        (_database, _runs, _scopes, _options, _time, _replicaId, _logger) = (database, runs, scopes, options, time, service.InstanceId, logger);
        _executions = meters.Create(Observability.ShopMetrics.MeterName)
            .CreateCounter<long>("firedrill.job.executions", "{execution}", "Scheduled job executions started by this replica.");
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            var interval = _options.CurrentValue.InventorySyncInterval;
            var now = _time.GetUtcNow();
            var next = new DateTimeOffset(now.UtcTicks - now.UtcTicks % interval.Ticks, TimeSpan.Zero) + interval;
            await Task.Delay(next - now, _time, stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
            if (stoppingToken.IsCancellationRequested || !_options.CurrentValue.InventorySyncEnabled)
            {
                continue;
            }

            try
            {
                await RunWindowAsync(next.UtcDateTime, next.UtcTicks / interval.Ticks, stoppingToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                LogRunFailed(next.UtcDateTime, ex);
            }
        }
    }

    private async Task RunWindowAsync(DateTime windowStart, long windowIndex, CancellationToken cancellationToken)
    {
        if (!_options.CurrentValue.UseDistributedLock)
        {
            // The duplicate-job incident: no coordination, so every replica runs every window.
            await ExecuteWindowAsync(windowStart, windowIndex, cancellationToken);
            return;
        }

        // One lock per window, not per job: a long run of one window never blocks the next.
        var windowLock = new PostgresDistributedLock(
            new PostgresAdvisoryLockKey($"firedrill:{JobName}:{windowStart:O}", allowHashing: true), _database.DataSource);
        await using var handle = await windowLock.TryAcquireAsync(TimeSpan.Zero, cancellationToken);
        if (handle is null || await _runs.HasRunAsync(JobName, windowStart, cancellationToken))
        {
            return;
        }

        await ExecuteWindowAsync(windowStart, windowIndex, cancellationToken);
    }

    private async Task ExecuteWindowAsync(DateTime windowStart, long windowIndex, CancellationToken cancellationToken)
    {
        var runId = await _runs.StartAsync(JobName, windowStart, _replicaId, cancellationToken);
        _executions.Add(1, new KeyValuePair<string, object?>("job", JobName));
        var products = await _runs.ProductBatchAsync(windowIndex, _options.CurrentValue.InventorySyncBatchSize, cancellationToken);
        await using var scope = _scopes.CreateAsyncScope();
        var inventory = scope.ServiceProvider.GetRequiredService<InventoryClient>();
        int differ = 0, unknown = 0;
        foreach (var (id, sku, stock) in products)
        {
            var availability = await inventory.GetAvailabilityAsync(id, sku, cancellationToken);
            unknown += availability.Available is null ? 1 : 0;
            differ += availability.Available is { } available && available != stock ? 1 : 0;
        }

        var detail = $"checked {products.Count}, {differ} differ, {unknown} unknown";
        await _runs.FinishAsync(runId, unknown == products.Count && products.Count > 0 ? "degraded" : "succeeded", detail, cancellationToken);
        LogRan(windowStart, detail);
    }

    [LoggerMessage(EventId = 6001, Level = LogLevel.Information, Message = "Inventory sync for the window at {WindowStart:O}: {Detail}")]
    private partial void LogRan(DateTime windowStart, string detail);

    [LoggerMessage(EventId = 6002, Level = LogLevel.Warning, Message = "Inventory sync for the window at {WindowStart:O} failed")]
    private partial void LogRunFailed(DateTime windowStart, Exception exception);
}

internal static class JobsExtensions
{
    public static IHostApplicationBuilder AddJobs(this IHostApplicationBuilder builder)
    {
        builder.Services.AddRuntimeOptions<JobsOptions, JobsOptionsValidator>(JobsOptions.SectionName);
        builder.Services.AddSingleton<JobRunStore>();
        builder.Services.AddHostedService<InventorySyncJob>();
        return builder;
    }
}
