using System.Diagnostics.Metrics;
using Firedrill.ServiceDefaults.Options;
using Firedrill.ServiceDefaults.Telemetry;
using Firedrill.Shop.Features.Inventory;
using Microsoft.Extensions.Options;

namespace Firedrill.Shop.Features.Jobs;

/// <summary>
/// "Inventory sync": once per window, compares a batch of products' stock with the inventory
/// service and sends inventory the window's reconciliation (which makes it re-count them: work
/// that must happen once per window). Every replica runs this schedule, each tick at a random point
/// early in the window (<see cref="JobsOptions.InventorySyncJitter"/>); a lease per window
/// (<see cref="JobLock.Lease"/>, ShedLock's design) makes one replica run it: lock-at-most bounds how
/// long a killed holder keeps the window, lock-at-least keeps it held past a fast run for the
/// replicas whose tick comes later, and the next window, a lock of its own, never waits for it.
/// </summary>
internal sealed partial class InventorySyncJob : BackgroundService
{
    public const string JobName = "inventory-sync";

    private readonly JobRunStore _runs;
    private readonly JobLocks _locks;
    private readonly IServiceScopeFactory _scopes;
    private readonly IOptionsMonitor<JobsOptions> _options;
    private readonly TimeProvider _time;
    private readonly string _replicaId;
    private readonly Counter<long> _executions;
    private readonly Counter<long> _lockBusy;
    private readonly ILogger<InventorySyncJob> _logger;

    public InventorySyncJob(JobRunStore runs, JobLocks locks, IServiceScopeFactory scopes, IOptionsMonitor<JobsOptions> options,
        TimeProvider time, ServiceIdentity service, IMeterFactory meters, ILogger<InventorySyncJob> logger)
    {
        (_runs, _locks, _scopes, _options, _time, _replicaId, _logger) = (runs, locks, scopes, options, time, service.InstanceId, logger);
        var meter = meters.Create(Observability.ShopMetrics.MeterName);
        _executions = meter.CreateCounter<long>("firedrill.job.executions", "{execution}", "Scheduled job executions started by this replica.");
        _lockBusy = meter.CreateCounter<long>("firedrill.job.lock_busy", "{tick}", "Ticks of this replica that found the window's lock held, and ran nothing.");
        // At zero from the start, so the first increment shows in increase() and rate().
        _executions.Add(0, new KeyValuePair<string, object?>("job", JobName));
        _lockBusy.Add(0, new KeyValuePair<string, object?>("job", JobName));
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            var settings = _options.CurrentValue;
            var interval = settings.InventorySyncInterval;
            var now = _time.GetUtcNow();
            var window = new DateTimeOffset(now.UtcTicks - now.UtcTicks % interval.Ticks, TimeSpan.Zero) + interval;
            var tick = window + settings.InventorySyncJitter * Random.Shared.NextDouble();
            await Task.Delay(tick - now, _time, stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
            if (stoppingToken.IsCancellationRequested || !_options.CurrentValue.InventorySyncEnabled)
            {
                continue;
            }

            try
            {
                await RunWindowAsync(window.UtcDateTime, window.UtcTicks / interval.Ticks, _options.CurrentValue, stoppingToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                LogRunFailed(window.UtcDateTime, ex);
            }
        }
    }

    private Task RunWindowAsync(DateTime window, long windowIndex, JobsOptions settings, CancellationToken cancellationToken) => settings.Lock switch
    {
        // The duplicate-scheduled-job incident: no coordination, so every replica runs every window.
        JobLock.None => ExecuteWindowAsync(window, windowIndex, cancellationToken),
        JobLock.RowWithoutExpiry => RunUnderRowWithoutExpiryAsync(window, windowIndex, cancellationToken),
        _ => RunUnderLeaseAsync(window, windowIndex, settings, cancellationToken),
    };

    /// <summary>The window's lease: taken by the first tick, held at least <see cref="JobsOptions.LockAtLeast"/>, at most <see cref="JobsOptions.LockAtMost"/>.</summary>
    private async Task RunUnderLeaseAsync(DateTime window, long windowIndex, JobsOptions settings, CancellationToken cancellationToken)
    {
        var lease = await _locks.TryLeaseAsync($"{JobName}:{window:O}", _replicaId, settings.LockAtMost, cancellationToken);
        if (lease is null)
        {
            LockBusy(window);
            return;
        }

        try
        {
            await ExecuteWindowAsync(window, windowIndex, cancellationToken);
        }
        finally
        {
            // With LockAtLeast 0 (the lock released early) the window is free again as soon as a fast run ends.
            await _locks.ReleaseAsync(lease, settings.LockAtLeast, CancellationToken.None);
        }
    }

    /// <summary>
    /// The duplicate-scheduled-job incident's lease that never expires: one row for the whole job, and
    /// the window's run in <c>job_runs</c> for "once per window". Correct until a holder dies holding it.
    /// </summary>
    private async Task RunUnderRowWithoutExpiryAsync(DateTime window, long windowIndex, CancellationToken cancellationToken)
    {
        if (!await _locks.TryTakeRowWithoutExpiryAsync(JobName, _replicaId, cancellationToken))
        {
            LockBusy(window);
            return;
        }

        try
        {
            if (!await _runs.HasRunAsync(JobName, window, cancellationToken))
            {
                await ExecuteWindowAsync(window, windowIndex, cancellationToken);
            }
        }
        finally
        {
            await _locks.RemoveRowAsync(JobName, _replicaId, CancellationToken.None);
        }
    }

    private async Task ExecuteWindowAsync(DateTime window, long windowIndex, CancellationToken cancellationToken)
    {
        var runId = await _runs.StartAsync(JobName, window, _replicaId, cancellationToken);
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

        var status = unknown == products.Count && products.Count > 0 ? "degraded" : "succeeded";
        try
        {
            await inventory.SyncAsync(window, _replicaId, products.Count, differ, cancellationToken);
        }
        catch (InventoryUnavailableException)
        {
            status = "degraded";
        }

        var detail = $"checked {products.Count}, {differ} differ, {unknown} unknown";
        await _runs.FinishAsync(runId, status, detail, cancellationToken);
        LogRan(window, detail);
    }

    private void LockBusy(DateTime window)
    {
        _lockBusy.Add(1, new KeyValuePair<string, object?>("job", JobName));
        LogLockBusy(window);
    }

    [LoggerMessage(EventId = 6001, Level = LogLevel.Information, Message = "Inventory sync for the window at {WindowStart:O}: {Detail}")]
    private partial void LogRan(DateTime windowStart, string detail);

    [LoggerMessage(EventId = 6002, Level = LogLevel.Warning, Message = "Inventory sync for the window at {WindowStart:O} failed")]
    private partial void LogRunFailed(DateTime windowStart, Exception exception);

    [LoggerMessage(EventId = 6003, Level = LogLevel.Debug, Message = "Inventory sync for the window at {WindowStart:O}: the lock is held elsewhere")]
    private partial void LogLockBusy(DateTime windowStart);
}

internal static class JobsExtensions
{
    public static IHostApplicationBuilder AddJobs(this IHostApplicationBuilder builder)
    {
        builder.Services.AddRuntimeOptions<JobsOptions, JobsOptionsValidator>(JobsOptions.SectionName);
        builder.Services.AddSingleton<JobRunStore>();
        builder.Services.AddSingleton<JobLocks>();
        builder.Services.AddHostedService<InventorySyncJob>();
        return builder;
    }
}
