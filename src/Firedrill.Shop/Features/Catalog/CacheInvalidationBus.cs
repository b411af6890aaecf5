using Microsoft.Extensions.Caching.Hybrid;
using StackExchange.Redis;

namespace Firedrill.Shop.Features.Catalog;

/// <summary>
/// Cross-replica L1 invalidation over Redis pub/sub. Each replica subscribes; a message names
/// the sender and the keys, and every other replica evicts those keys from its own cache.
/// </summary>
internal sealed partial class CacheInvalidationBus(
    IConnectionMultiplexer redis, Data.ShopDatabase database, IServiceProvider services, Observability.ShopMetrics metrics, ILogger<CacheInvalidationBus> logger)
    : IHostedService
{
    private readonly RedisChannel _channel = RedisChannel.Literal($"firedrill:{database.DatabaseName}:cache:invalidate");
    private readonly string _sender = Guid.NewGuid().ToString("N");

    public async Task PublishAsync(IReadOnlyCollection<string> keys)
    {
        try
        {
            await redis.GetSubscriber().PublishAsync(_channel, $"{_sender}|{string.Join(',', keys)}");
            metrics.CacheInvalidationsPublished(keys.Count);
        }
        catch (RedisException ex)
        {
            // The entries still expire after LocalCacheExpiration; a lost broadcast bounds staleness, it doesn't break reads.
            LogPublishFailed(ex);
        }
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var cache = services.GetRequiredService<HybridCache>();
        try
        {
            // A handler, not a message queue: the multiplexer registers it before it sends SUBSCRIBE and
            // subscribes again on every reconnect, so if Redis is down now the handler works once it is
            // back. (A message queue whose SubscribeAsync threw is subscribed again too, but never returned
            // to us, so nothing reads it: the replica missed every invalidation. RedisLostTests.)
            await redis.GetSubscriber().SubscribeAsync(_channel, (channel, message) => _ = EvictAsync(cache, message.ToString()));
        }
        catch (RedisException ex)
        {
            // Redis is down at start: the shop still serves, with L1 bounded by its expiration until Redis is back.
            LogSubscribeFailed(ex);
        }
    }

    private async Task EvictAsync(HybridCache cache, string message)
    {
        var separator = message.IndexOf('|', StringComparison.Ordinal);
        if (separator < 0 || message.AsSpan(0, separator).SequenceEqual(_sender))
        {
            return;
        }

        try
        {
            var keys = message[(separator + 1)..].Split(',', StringSplitOptions.RemoveEmptyEntries);
            await cache.RemoveAsync(keys);
            metrics.CacheInvalidationsReceived(keys.Length);
        }
        catch (RedisException ex)
        {
            LogPublishFailed(ex);
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        try
        {
            await redis.GetSubscriber().UnsubscribeAsync(_channel);
        }
        catch (RedisException)
        {
            // Shutting down with Redis gone: nothing left to unsubscribe from.
        }
    }

    [LoggerMessage(EventId = 2002, Level = LogLevel.Warning, Message = "Could not subscribe to cache invalidations yet; until Redis is back this replica's cache entries live until they expire")]
    private partial void LogSubscribeFailed(Exception exception);

    [LoggerMessage(EventId = 2001, Level = LogLevel.Warning, Message = "Cache invalidation broadcast failed; other replicas keep their copy until it expires")]
    private partial void LogPublishFailed(Exception exception);
}
