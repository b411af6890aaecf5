using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Confluent.Kafka;
using Dapper;
using Firedrill.Shop.Data;
using Firedrill.Shop.Features.Inventory;
using Microsoft.Extensions.Options;

namespace Firedrill.Shop.Features.Messaging;

/// <summary>
/// The <c>ledger</c> consumer group: applies payment events to the ledger table. Applying is
/// idempotent (the event id goes into <c>processed_events</c> in the same transaction), and an
/// offset is stored only after its event is applied (<c>enable.auto.offset.store=false</c>), so
/// a crash redelivers rather than loses, and a redelivery changes nothing.
/// </summary>
internal sealed partial class LedgerConsumer(
    ShopDatabase database,
    KafkaCluster cluster,
    IServiceScopeFactory scopes,
    IOptionsMonitor<KafkaOptions> options,
    TimeProvider time,
    ILogger<LedgerConsumer> logger) : BackgroundService
{
    public static readonly ActivitySource Source = new("Firedrill.Shop.Messaging");

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        // Consume blocks its thread; give it one of its own rather than a pool thread.
        Task.Factory.StartNew(() => ConsumeLoopAsync(stoppingToken), stoppingToken, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap();

    private async Task ConsumeLoopAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            var settings = options.CurrentValue;
            if (!settings.ConsumerEnabled)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(500), time, stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
                continue;
            }

            try
            {
                await RunConsumerAsync(settings, stoppingToken);
            }
            catch (KafkaException ex)
            {
                LogConsumerFailed(ex);
                await Task.Delay(TimeSpan.FromSeconds(1), time, stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }
    }

    /// <summary>Runs one consumer until stopped or until its settings change (then the loop builds a new one).</summary>
    private async Task RunConsumerAsync(KafkaOptions settings, CancellationToken stoppingToken)
    {
        var bootstrap = cluster.BootstrapServers;
        using var consumer = new ConsumerBuilder<string, string>(new ConsumerConfig
        {
            BootstrapServers = bootstrap,
            GroupId = settings.LedgerGroup,
            AutoOffsetReset = AutoOffsetReset.Earliest,
            EnableAutoCommit = true,
            EnableAutoOffsetStore = false,
            AutoCommitIntervalMs = 1000,
            // A restarted or replaced member should rejoin within seconds, not the 45 s default.
            SessionTimeoutMs = 6000,
            HeartbeatIntervalMs = 1500,
        }).SetLogHandler((_, message) => LogKafka(message.Level.ToString(), message.Message)).Build();
        consumer.Subscribe(settings.PaymentsTopic);
        try
        {
            while (!stoppingToken.IsCancellationRequested && SameSettings(settings, bootstrap))
            {
                var result = consumer.Consume(TimeSpan.FromMilliseconds(250));
                if (result?.Message is null || !SameSettings(settings, bootstrap))
                {
                    // A message read just as the settings changed stays unstored: the next consumer reads it again.
                    continue;
                }

                try
                {
                    await ApplyAsync(result, settings, stoppingToken);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    // Not applied, so not stored: read it again after a pause (the database or a dependency may be back).
                    LogApplyFailed(result.TopicPartitionOffset.ToString(), ex);
                    consumer.Seek(result.TopicPartitionOffset);
                    await Task.Delay(TimeSpan.FromSeconds(1), time, stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
                    continue;
                }

                consumer.StoreOffset(result);
                if (settings.CommitEveryMessage)
                {
                    consumer.Commit();
                }
            }
        }
        finally
        {
            // Commits what was stored and leaves the group at once, instead of after a session timeout.
            consumer.Close();
        }
    }

    private bool SameSettings(KafkaOptions settings, string bootstrap) =>
        ReferenceEquals(settings, options.CurrentValue) && bootstrap == cluster.BootstrapServers;

    private async Task ApplyAsync(ConsumeResult<string, string> result, KafkaOptions settings, CancellationToken cancellationToken)
    {
        using var activity = Source.StartActivity("ledger apply", ActivityKind.Consumer, ParentContext(result.Message.Headers));
        var message = JsonSerializer.Deserialize<PaymentAccepted>(result.Message.Value, JsonSerializerOptions.Web);
        if (message is null)
        {
            LogPoisonMessage(result.TopicPartitionOffset.ToString());
            return;
        }

        if (settings.DownstreamCallPerMessage)
        {
            await using var scope = scopes.CreateAsyncScope();
            await scope.ServiceProvider.GetRequiredService<InventoryClient>()
                .GetAvailabilityAsync(message.OrderId, $"SKU-{message.OrderId % 1000 + 1:D6}", cancellationToken);
        }

        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var now = time.GetUtcNow().UtcDateTime;
        var first = await connection.ExecuteScalarAsync<bool>(new CommandDefinition(
            "INSERT INTO processed_events (event_id, processed_at) VALUES (@EventId, @now) ON CONFLICT DO NOTHING RETURNING true",
            new { message.EventId, now }, transaction, cancellationToken: cancellationToken));
        if (first)
        {
            await connection.ExecuteAsync(new CommandDefinition(
                """
                INSERT INTO ledger (event_id, payment_id, order_id, amount, currency, applied_at)
                VALUES (@EventId, @PaymentId, @OrderId, @Amount, @Currency, @now)
                """,
                new { message.EventId, message.PaymentId, message.OrderId, message.Amount, message.Currency, now }, transaction, cancellationToken: cancellationToken));
        }

        await transaction.CommitAsync(cancellationToken);
        LogApplied(message.EventId, first);
    }

    private static ActivityContext ParentContext(Headers headers) =>
        headers.TryGetLastBytes(MessageHeaders.TraceParent, out var bytes)
            && ActivityContext.TryParse(Encoding.UTF8.GetString(bytes), null, out var context)
            ? context
            : default;

    [LoggerMessage(EventId = 5020, Level = LogLevel.Information, Message = "Payment event {EventId} applied to the ledger (first delivery: {FirstDelivery})")]
    private partial void LogApplied(string eventId, bool firstDelivery);

    [LoggerMessage(EventId = 5021, Level = LogLevel.Error, Message = "Skipped an unreadable message at {Position}")]
    private partial void LogPoisonMessage(string position);

    [LoggerMessage(EventId = 5024, Level = LogLevel.Warning, Message = "Could not apply the message at {Position}; it will be read again")]
    private partial void LogApplyFailed(string position, Exception exception);

    [LoggerMessage(EventId = 5022, Level = LogLevel.Warning, Message = "Ledger consumer failed; restarting it")]
    private partial void LogConsumerFailed(Exception exception);

    [LoggerMessage(EventId = 5023, Level = LogLevel.Debug, Message = "librdkafka {Level}: {Message}")]
    private partial void LogKafka(string level, string message);
}
