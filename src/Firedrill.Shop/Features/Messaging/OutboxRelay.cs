using System.Text;
using Confluent.Kafka;
using Dapper;
using Firedrill.Shop.Data;
using Microsoft.Extensions.Options;

namespace Firedrill.Shop.Features.Messaging;

/// <summary>
/// Publishes outbox rows to Kafka, oldest first, and marks them published in the same
/// transaction that locked them. Replicas share the work with <c>FOR UPDATE SKIP LOCKED</c>.
/// Delivery is at least once: a crash after Kafka acknowledged but before the commit
/// publishes the batch again, and the consumer's idempotent apply absorbs the repeat.
/// </summary>
internal sealed partial class OutboxRelay(
    ShopDatabase database, KafkaCluster cluster, IOptionsMonitor<KafkaOptions> options, MessagingMetrics metrics, TimeProvider time, ILogger<OutboxRelay> logger)
    : BackgroundService
{
    private IProducer<string, string>? _producer;
    private string? _producerBootstrap;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Yield at once so start-up (and readiness) never waits on Kafka.
        await Task.Yield();
        while (!stoppingToken.IsCancellationRequested)
        {
            var settings = options.CurrentValue;
            var published = 0;
            try
            {
                published = settings.RelayEnabled ? await RelayBatchAsync(settings, stoppingToken) : 0;
            }
            catch (Exception ex) when (ex is KafkaException or Npgsql.NpgsqlException or TimeoutException)
            {
                LogRelayFailed(ex);
            }

            if (published < settings.RelayBatchSize)
            {
                await Task.Delay(settings.RelayInterval, time, stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }
    }

    private async Task<int> RelayBatchAsync(KafkaOptions settings, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var rows = (await connection.QueryAsync<OutboxRow>(new CommandDefinition(
            """
            SELECT id AS Id, topic AS Topic, message_key AS MessageKey, event_id AS EventId, payload AS Payload, traceparent AS Traceparent
            FROM outbox WHERE published_at IS NULL ORDER BY id LIMIT @limit FOR UPDATE SKIP LOCKED
            """,
            new { limit = settings.RelayBatchSize }, transaction, cancellationToken: cancellationToken))).ToList();
        if (rows.Count == 0)
        {
            return 0;
        }

        var producer = Producer(settings);
        var delivered = await Task.WhenAll(rows.Select(row => producer.ProduceAsync(row.Topic, ToMessage(row), cancellationToken)));
        foreach (var result in delivered)
        {
            metrics.Published(result.Partition.Value);
        }

        await connection.ExecuteAsync(new CommandDefinition(
            "UPDATE outbox SET published_at = @now WHERE id = ANY(@ids)",
            new { now = time.GetUtcNow().UtcDateTime, ids = rows.Select(row => row.Id).ToArray() }, transaction, cancellationToken: cancellationToken));
        await transaction.CommitAsync(cancellationToken);
        return rows.Count;
    }

    private static Message<string, string> ToMessage(OutboxRow row)
    {
        var headers = new Headers { { MessageHeaders.EventId, Encoding.UTF8.GetBytes(row.EventId) } };
        if (row.Traceparent is not null)
        {
            headers.Add(MessageHeaders.TraceParent, Encoding.UTF8.GetBytes(row.Traceparent));
        }

        return new Message<string, string> { Key = row.MessageKey, Value = row.Payload, Headers = headers };
    }

    /// <summary>One producer, rebuilt if the cluster's address changes (the lab can move it).</summary>
    private IProducer<string, string> Producer(KafkaOptions settings)
    {
        var bootstrap = cluster.BootstrapServers;
        if (_producer is not null && _producerBootstrap == bootstrap)
        {
            return _producer;
        }

        _producer?.Dispose();
        _producer = new ProducerBuilder<string, string>(new ProducerConfig
        {
            BootstrapServers = bootstrap,
            Acks = Acks.All,
            EnableIdempotence = true,
            LingerMs = 5,
            MessageTimeoutMs = (int)settings.DeliveryTimeout.TotalMilliseconds,
        }).SetLogHandler((_, message) => LogKafka(message.Level.ToString(), message.Message)).Build();
        _producerBootstrap = bootstrap;
        return _producer;
    }

    public override void Dispose()
    {
        _producer?.Dispose();
        base.Dispose();
    }

    private sealed record OutboxRow(long Id, string Topic, string MessageKey, string EventId, string Payload, string? Traceparent);

    [LoggerMessage(EventId = 5010, Level = LogLevel.Warning, Message = "Outbox relay could not publish; the messages stay in the outbox and are retried")]
    private partial void LogRelayFailed(Exception exception);

    [LoggerMessage(EventId = 5011, Level = LogLevel.Debug, Message = "librdkafka {Level}: {Message}")]
    private partial void LogKafka(string level, string message);
}

internal static class MessageHeaders
{
    public const string TraceParent = "traceparent";
    public const string EventId = "event-id";
}
