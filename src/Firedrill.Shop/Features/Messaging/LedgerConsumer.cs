using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Text;
using System.Text.Json;
using Confluent.Kafka;
using Firedrill.ServiceDefaults.Telemetry;
using Firedrill.Shop.Features.Inventory;
using Firedrill.Shop.Observability;
using Microsoft.Extensions.Options;

namespace Firedrill.Shop.Features.Messaging;

/// <summary>
/// The <c>ledger</c> consumer group: applies payment events to the ledger table, a batch of up to
/// <see cref="KafkaOptions.ApplyBatchSize"/> per transaction. Applying is idempotent (the event id
/// goes into <c>processed_events</c> in the same transaction), and offsets are stored only after
/// their batch is applied (<c>enable.auto.offset.store=false</c>), so a crash redelivers rather
/// than loses, and a redelivery changes nothing.
/// </summary>
internal sealed partial class LedgerConsumer(
    LedgerWriter ledger,
    KafkaCluster cluster,
    IServiceScopeFactory scopes,
    IOptionsMonitor<KafkaOptions> options,
    IMeterFactory meters,
    TimeProvider time,
    TraceContextMetrics traceContext,
    ILogger<LedgerConsumer> logger) : BackgroundService
{
    public static readonly ActivitySource Source = new("Firedrill.Shop.Messaging");

    // numeric(14, 2): a larger amount would fail its whole batch, every time it is read.
    private const decimal LedgerAmountLimit = 1_000_000_000_000m;

    private readonly Counter<long> _events = meters.Create(ShopMetrics.MeterName).CreateCounter<long>(
        "firedrill.ledger.events", "{event}", "Payment events applied to the ledger, by delivery (first, or redelivered and absorbed).");

    private readonly Histogram<int> _batchSizes = meters.Create(ShopMetrics.MeterName).CreateHistogram<int>(
        "firedrill.ledger.batch.size", "{message}", "Messages applied per ledger transaction.");

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
        var batch = new List<ConsumeResult<string, string>>(settings.ApplyBatchSize);
        try
        {
            while (!stoppingToken.IsCancellationRequested && SameSettings(settings, bootstrap))
            {
                batch.Clear();
                Fill(consumer, batch, settings);
                if (batch.Count == 0 || !SameSettings(settings, bootstrap))
                {
                    // A batch read just as the settings changed stays unstored: the next consumer reads it again.
                    continue;
                }

                try
                {
                    await ApplyAsync(batch, settings, stoppingToken);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    // Not applied, so not stored: read it again after a pause (the database or a dependency may be back).
                    LogApplyFailed(batch.Count, batch[0].TopicPartitionOffset.ToString(), ex);
                    foreach (var partition in batch.GroupBy(result => result.TopicPartition))
                    {
                        consumer.Seek(partition.MinBy(result => result.Offset.Value)!.TopicPartitionOffset);
                    }

                    await Task.Delay(TimeSpan.FromSeconds(1), time, stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
                    continue;
                }

                Store(consumer, batch);
                if (settings.CommitEveryMessage)
                {
                    Commit(consumer);
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

    /// <summary>
    /// Waits up to 250 ms for a first message, then adds what arrives within
    /// <see cref="KafkaOptions.ApplyBatchWait"/> of it, and after that what is already fetched,
    /// until the batch is full: a trickle waits at most the wait, a backlog fills whole batches.
    /// </summary>
    private void Fill(IConsumer<string, string> consumer, List<ConsumeResult<string, string>> batch, KafkaOptions settings)
    {
        var first = consumer.Consume(TimeSpan.FromMilliseconds(250));
        if (first?.Message is null)
        {
            return;
        }

        batch.Add(first);
        var started = time.GetTimestamp();
        while (batch.Count < settings.ApplyBatchSize)
        {
            var left = settings.ApplyBatchWait - time.GetElapsedTime(started);
            var next = consumer.Consume(left > TimeSpan.Zero ? left : TimeSpan.Zero);
            if (next?.Message is null)
            {
                return;
            }

            batch.Add(next);
        }
    }

    private async Task ApplyAsync(List<ConsumeResult<string, string>> batch, KafkaOptions settings, CancellationToken cancellationToken)
    {
        var events = new List<(PaymentAccepted Event, ActivityContext Parent)>(batch.Count);
        foreach (var result in batch)
        {
            if (Read(result.Message.Value) is { } message)
            {
                events.Add((message, ParentContext(result.Message.Headers)));
            }
            else
            {
                LogPoisonMessage(result.TopicPartitionOffset.ToString());
            }
        }

        if (events.Count == 0)
        {
            return;
        }

        if (settings.DownstreamCallPerMessage)
        {
            // The slow handler of the consumer-lag incident: one synchronous call per event, however large the batch.
            await using var scope = scopes.CreateAsyncScope();
            var inventory = scope.ServiceProvider.GetRequiredService<InventoryClient>();
            foreach (var (message, parent) in events)
            {
                using var activity = Source.StartActivity("ledger inventory check", ActivityKind.Consumer, parent);
                await inventory.GetAvailabilityAsync(message.OrderId, $"SKU-{message.OrderId % 1000 + 1:D6}", cancellationToken);
            }
        }

        HashSet<string> fresh;
        using (var activity = Source.StartActivity("ledger apply", ActivityKind.Consumer, parentContext: default,
            links: events.Where(e => e.Parent != default).Select(e => new ActivityLink(e.Parent))))
        {
            activity?.SetTag("messaging.batch.message_count", batch.Count);
            fresh = await ledger.ApplyAsync(events.Select(e => e.Event), cancellationToken);
        }

        _batchSizes.Record(batch.Count);
        _events.Add(fresh.Count, new KeyValuePair<string, object?>("delivery", "first"));
        _events.Add(events.Count - fresh.Count, new KeyValuePair<string, object?>("delivery", "redelivered"));
        LogBatchApplied(batch.Count, fresh.Count);
        foreach (var (message, parent) in events)
        {
            // A span in the producer's trace, so that this line carries the payment request's
            // TraceId: `firedrill trace` follows a payment from the request to the ledger by it.
            // A message without trace context starts a trace of its own, which no request leads to.
            using var activity = Source.StartActivity("ledger applied", ActivityKind.Consumer, parent);
            traceContext.Message(remoteParent: parent != default);
            // Remove: a second copy of an event in the same batch was not its first delivery.
            LogApplied(message.EventId, fresh.Remove(message.EventId));
        }
    }

    /// <summary>
    /// The event, or null for a message that no retry could ever apply (unreadable, or refused by
    /// the ledger's columns): retried, it would hold back its whole batch for good.
    /// </summary>
    private static PaymentAccepted? Read(string? value)
    {
        try
        {
            var message = value is null ? null : JsonSerializer.Deserialize<PaymentAccepted>(value, JsonSerializerOptions.Web);
            return message is { EventId.Length: > 0, Currency.Length: > 0 and <= 3 }
                && Math.Abs(Math.Round(message.Amount, 2, MidpointRounding.AwayFromZero)) < LedgerAmountLimit
                ? message
                : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>
    /// Stores, per partition, the position after the batch's last message there: everything before
    /// it is applied (or was unreadable and skipped).
    /// </summary>
    private void Store(IConsumer<string, string> consumer, List<ConsumeResult<string, string>> batch)
    {
        foreach (var partition in batch.GroupBy(result => result.TopicPartition))
        {
            try
            {
                consumer.StoreOffset(partition.MaxBy(result => result.Offset.Value)!);
            }
            catch (KafkaException ex) when (ex.Error.Code == ErrorCode.Local_State)
            {
                // Revoked by a rebalance while the batch filled. Its new owner reads again from the last
                // commit, which the idempotent apply absorbs; rebuilding this consumer would only rebalance again.
                LogStoreSkipped(partition.Key.ToString());
            }
        }
    }

    private static void Commit(IConsumer<string, string> consumer)
    {
        try
        {
            consumer.Commit();
        }
        catch (KafkaException ex) when (ex.Error.Code == ErrorCode.Local_NoOffset)
        {
            // The background auto-commit got there first (or every partition of the batch was revoked).
        }
    }

    private static ActivityContext ParentContext(Headers headers) =>
        headers.TryGetLastBytes(MessageHeaders.TraceParent, out var bytes)
            && ActivityContext.TryParse(Encoding.UTF8.GetString(bytes), null, isRemote: true, out var context)
            ? context
            : default;

    [LoggerMessage(EventId = 5020, Level = LogLevel.Information, Message = "Payment event {EventId} applied to the ledger (first delivery: {FirstDelivery})")]
    private partial void LogApplied(string eventId, bool firstDelivery);

    [LoggerMessage(EventId = 5021, Level = LogLevel.Error, Message = "Skipped an unreadable message at {Position}")]
    private partial void LogPoisonMessage(string position);

    [LoggerMessage(EventId = 5024, Level = LogLevel.Warning, Message = "Could not apply a batch of {Count} messages from {Position}; it will be read again")]
    private partial void LogApplyFailed(int count, string position, Exception exception);

    [LoggerMessage(EventId = 5025, Level = LogLevel.Debug, Message = "Applied a batch of {Count} messages in one transaction ({FirstDeliveries} first deliveries)")]
    private partial void LogBatchApplied(int count, int firstDeliveries);

    [LoggerMessage(EventId = 5026, Level = LogLevel.Debug, Message = "Did not store the offset of {Partition}: no longer assigned to this consumer")]
    private partial void LogStoreSkipped(string partition);

    [LoggerMessage(EventId = 5022, Level = LogLevel.Warning, Message = "Ledger consumer failed; restarting it")]
    private partial void LogConsumerFailed(Exception exception);

    [LoggerMessage(EventId = 5023, Level = LogLevel.Debug, Message = "librdkafka {Level}: {Message}")]
    private partial void LogKafka(string level, string message);
}
