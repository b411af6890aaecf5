using Microsoft.Extensions.Caching.Hybrid;
using StackExchange.Redis;

namespace Firedrill.Shop.Features.Catalog;

/// <summary>
/// Cross-replica L1 invalidation over Redis pub/sub. Each replica subscribes; a message names
/// the sender and the keys, and every other replica evicts those keys from its own cache.
/// </summary>
internal sealed partial class CacheInvalidationBus(
    IConnectionMultiplexer redis, IServiceProvider services, ILogger<CacheInvalidationBus> logger) : IHostedService
{
    private static readonly RedisChannel Channel = RedisChannel.Literal("firedrill:cache:invalidate");
    private readonly string _sender = Guid.NewGuid().ToString("N");

    public async Task PublishAsync(IReadOnlyCollection<string> keys)
    {
        try
        {
            await redis.GetSubscriber().PublishAsync(Channel, $"{_sender}|{string.Join(',', keys)}");
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
        var queue = await redis.GetSubscriber().SubscribeAsync(Channel);
        queue.OnMessage(async message =>
        {
            var text = message.Message.ToString();
            var separator = text.IndexOf('|', StringComparison.Ordinal);
            if (separator < 0 || text.AsSpan(0, separator).SequenceEqual(_sender))
            {
                return;
            }

            var keys = text[(separator + 1)..].Split(',', StringSplitOptions.RemoveEmptyEntries);
            await cache.RemoveAsync(keys);
        });
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        try
        {
            await redis.GetSubscriber().UnsubscribeAsync(Channel);
        }
        catch (RedisException)
        {
            // Shutting down with Redis gone: nothing left to unsubscribe from.
        }
    }

    [LoggerMessage(EventId = 2001, Level = LogLevel.Warning, Message = "Cache invalidation broadcast failed; other replicas keep their copy until it expires")]
    private partial void LogPublishFailed(Exception exception);
}
