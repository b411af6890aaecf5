using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Firedrill.Shop.Features.Inventory;
using Microsoft.Extensions.Options;

namespace Firedrill.Shop.Features.Catalog;

/// <summary>
/// The last stock level inventory gave for each product (a badge for listing pages), refreshed
/// in the background after a product is read, so the read itself never waits for inventory.
/// The refreshes go through a bounded queue drained by a fixed number of workers: the
/// background work can never take more than its share of the shop's threads.
/// </summary>
internal sealed class StockBadges : BackgroundService
{
    private readonly ConcurrentDictionary<long, int?> _badges = new();
    private readonly Channel<(long Id, string Sku)> _queue;
    private readonly IServiceScopeFactory _scopes;
    private readonly IOptionsMonitor<AvailabilityOptions> _options;

    public StockBadges(IServiceScopeFactory scopes, IOptionsMonitor<AvailabilityOptions> options)
    {
        (_scopes, _options) = (scopes, options);
        _queue = Channel.CreateBounded<(long, string)>(new BoundedChannelOptions(options.CurrentValue.RefreshQueueLimit)
        {
            FullMode = BoundedChannelFullMode.DropOldest,
        });
    }

    /// <summary>The badge of a product: null until a refresh has seen it (or when inventory answered "unknown").</summary>
    public int? Badge(long productId) => _badges.GetValueOrDefault(productId);

    /// <summary>Asks for a product's badge to be refreshed; returns at once.</summary>
    public void RequestRefresh(long productId, string sku)
    {
        var settings = _options.CurrentValue;
        if (!settings.StockBadges)
        {
            return;
        }

        if (settings.RefreshOnSharedPool)
        {
            SharedPoolRefresh(productId, sku);
            return;
        }

        _queue.Writer.TryWrite((productId, sku));
    }

    /// <summary>
    /// Reproduces thread-pool-starvation (blocking-background-work): one work item per read on the
    /// shared pool, each blocking its thread until inventory answers. The requests themselves are
    /// fully asynchronous, yet their continuations queue behind the blocked refreshes.
    /// </summary>
    private void SharedPoolRefresh(long productId, string sku) => _ = Task.Run(() => BlockingRefresh(productId, sku));

    // Its own frame (never inlined), so a thread dump names the defect.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void BlockingRefresh(long productId, string sku)
    {
        using var scope = _scopes.CreateScope();
        var inventory = scope.ServiceProvider.GetRequiredService<InventoryClient>();
        _badges[productId] = inventory.GetAvailabilityAsync(productId, sku, CancellationToken.None).GetAwaiter().GetResult().Available;
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(Enumerable.Range(0, _options.CurrentValue.RefreshWorkers).Select(_ => WorkAsync(stoppingToken)));

    private async Task WorkAsync(CancellationToken stoppingToken)
    {
        await foreach (var (productId, sku) in _queue.Reader.ReadAllAsync(stoppingToken))
        {
            await using var scope = _scopes.CreateAsyncScope();
            var inventory = scope.ServiceProvider.GetRequiredService<InventoryClient>();
            _badges[productId] = (await inventory.GetAvailabilityAsync(productId, sku, stoppingToken)).Available;
        }
    }
}
