using System.Diagnostics;
using Confluent.Kafka;
using Microsoft.Extensions.Options;

namespace Firedrill.Shop.Features.Messaging;

/// <summary>
/// The <c>ledger</c> consumer group: reads payment events in batches of up to
/// <see cref="KafkaOptions.ApplyBatchSize"/> and hands each to <see cref="LedgerHandler"/>. Applying
/// is idempotent (the event id goes into <c>processed_events</c> in the same transaction), and
/// offsets are stored only after their batch is applied (<c>enable.auto.offset.store=false</c>),
/// then committed in the background every <see cref="KafkaOptions.CommitInterval"/>, so a crash
/// or a rebalance redelivers rather than loses, and a redelivery changes nothing.
/// </summary>
internal sealed partial class LedgerConsumer(
    LedgerHandler handler,
    KafkaCluster cluster,
    MessagingMetrics metrics,
    IOptionsMonitor<KafkaOptions> options,
    TimeProvider time,
    ILogger<LedgerConsumer> logger) : BackgroundService
{
    public static readonly ActivitySource Source = new("Firedrill.Shop.Messaging");

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        // One loop per possible consumer; those beyond Kafka:ConsumersPerReplica wait. Consume blocks
        // its thread, so each loop gets one of its own rather than a pool thread.
        Task.WhenAll(Enumerable.Range(0, KafkaOptions.MaxConsumersPerReplica).Select(consumer =>
            Task.Factory.StartNew(() => ConsumeLoopAsync(consumer, stoppingToken), stoppingToken, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap()));

    private async Task ConsumeLoopAsync(int consumer, CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            var settings = options.CurrentValue;
            if (!Runs(consumer, settings))
            {
                await Task.Delay(TimeSpan.FromMilliseconds(500), time, stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
                continue;
            }

            try
            {
                await RunConsumerAsync(consumer, ClientSettings.From(settings, cluster.BootstrapServers), stoppingToken);
            }
            catch (KafkaException ex)
            {
                LogConsumerFailed(ex);
                await Task.Delay(TimeSpan.FromSeconds(1), time, stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
            }
            finally
            {
                metrics.Stopped(consumer);
            }
        }
    }

    /// <summary>
    /// Runs one consumer until stopped, disabled, or until a setting of the client itself changes
    /// (then the loop builds a new one). Handler settings are read per batch: changing them must not
    /// cost the group a rebalance.
    /// </summary>
    private async Task RunConsumerAsync(int index, ClientSettings client, CancellationToken stoppingToken)
    {
        await cluster.EnsureTopicAsync(client.Topic, stoppingToken);
        using var consumer = Build(index, client);
        consumer.Subscribe(client.Topic);
        metrics.Started(index);
        var batch = new List<ConsumeResult<string, string>>();
        try
        {
            while (!stoppingToken.IsCancellationRequested && Current(index, client))
            {
                var settings = options.CurrentValue;
                batch.Clear();
                // Watched from before the batch is read: a poll can block for seconds while the group
                // rebalances, and a change made meanwhile must not let the batch run under the old settings.
                using var handling = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
                using var redeployed = options.OnChange(changed =>
                {
                    if (HandlerChanged(settings, changed) || !Runs(index, changed))
                    {
                        handling.Cancel();
                    }
                });
                if (HandlerChanged(settings, options.CurrentValue))
                {
                    // Changed between the read and the watch: start over under the new settings.
                    continue;
                }

                Fill(consumer, batch, settings);
                if (batch.Count == 0 || !Current(index, client))
                {
                    // A batch read just as the client's settings changed stays unstored: the next consumer reads it again.
                    continue;
                }

                try
                {
                    await handler.HandleAsync(batch, settings, handling.Token);
                }
                catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
                {
                    // The handler's settings changed under this batch, as when a new version is deployed: the
                    // batch is abandoned unapplied and unstored and read again by the new handler at once,
                    // instead of finishing under the old one (the apply is idempotent, so nothing is lost or doubled).
                    LogBatchAbandoned(batch.Count);
                    Rewind(consumer, batch);
                    continue;
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    // Not applied, so not stored: read it again after a pause (the database or a dependency may be back).
                    LogApplyFailed(batch.Count, batch[0].TopicPartitionOffset.ToString(), ex);
                    Rewind(consumer, batch);
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

    private IConsumer<string, string> Build(int index, ClientSettings client) =>
        new ConsumerBuilder<string, string>(new ConsumerConfig
        {
            BootstrapServers = client.Bootstrap,
            GroupId = client.Group,
            AutoOffsetReset = AutoOffsetReset.Earliest,
            EnableAutoCommit = true,
            EnableAutoOffsetStore = false,
            AutoCommitIntervalMs = (int)client.CommitInterval.TotalMilliseconds,
            SessionTimeoutMs = (int)client.SessionTimeout.TotalMilliseconds,
            HeartbeatIntervalMs = (int)(client.SessionTimeout.TotalMilliseconds / 4),
            MaxPollIntervalMs = (int)client.MaxPollInterval.TotalMilliseconds,
            // A broker that holds an empty fetch until fetch.wait.max.ms (the mock does, whatever arrives
            // meanwhile) would add up to that much to every event's latency at a low rate.
            FetchWaitMaxMs = 50,
        })
        .SetPartitionsAssignedHandler((_, partitions) =>
        {
            metrics.Assigned(index, partitions.Select(p => p.Partition.Value));
            LogAssigned(index, string.Join(",", partitions.Select(p => p.Partition.Value)));
        })
        .SetPartitionsRevokedHandler((_, partitions) => metrics.Revoked(index, partitions.Select(p => p.Partition.Value)))
        .SetPartitionsLostHandler((_, partitions) => metrics.Revoked(index, partitions.Select(p => p.Partition.Value)))
        .SetLogHandler((_, message) => LogKafka(message.Level.ToString(), message.Message))
        .Build();

    private static bool HandlerChanged(KafkaOptions before, KafkaOptions after) =>
        before.HandlerParallelism != after.HandlerParallelism || before.DownstreamCallPerMessage != after.DownstreamCallPerMessage
        || before.ApplyBatchSize != after.ApplyBatchSize;

    private static bool Runs(int consumer, KafkaOptions settings) => settings.ConsumerEnabled && consumer < settings.ConsumersPerReplica;

    private bool Current(int consumer, ClientSettings client)
    {
        var settings = options.CurrentValue;
        return Runs(consumer, settings) && client == ClientSettings.From(settings, cluster.BootstrapServers);
    }

    /// <summary>
    /// Waits up to 250 ms for a first message, then adds what arrives within
    /// <see cref="KafkaOptions.ApplyBatchWait"/> of it, and after that what is already fetched,
    /// until the batch is full: a trickle waits at most the wait, a backlog fills whole batches.
    /// </summary>
    private void Fill(IConsumer<string, string> consumer, List<ConsumeResult<string, string>> batch, KafkaOptions settings)
    {
        try
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
        catch (ConsumeException ex) when (ex.Error.Code == ErrorCode.Local_MaxPollExceeded)
        {
            // The last batch kept this consumer from polling for max.poll.interval.ms: librdkafka left
            // the group, and this poll rejoins it. What was read since stays unapplied and unstored.
            metrics.PollTimeout();
            LogPollTimeout(ex.Error.Reason);
            batch.Clear();
        }
    }

    private static void Rewind(IConsumer<string, string> consumer, List<ConsumeResult<string, string>> batch)
    {
        foreach (var partition in batch.GroupBy(result => result.TopicPartition))
        {
            try
            {
                consumer.Seek(partition.MinBy(result => result.Offset.Value)!.TopicPartitionOffset);
            }
            catch (KafkaException)
            {
                // No longer assigned: its new owner reads from the last commit.
            }
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
                // Revoked by a rebalance while the batch was handled. Its new owner reads again from the last
                // commit, which the idempotent apply absorbs; rebuilding this consumer would only rebalance again.
                metrics.Unstored(partition.Key.Partition.Value, partition.Count());
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
        catch (KafkaException ex) when (ex.Error.Code is ErrorCode.Local_NoOffset or ErrorCode.RebalanceInProgress or ErrorCode.IllegalGeneration
            or ErrorCode.UnknownMemberId or ErrorCode.Local_State)
        {
            // Nothing new to commit (the background commit got there first), or the partitions moved:
            // their new owner starts from the last commit, which the idempotent apply absorbs.
        }
    }

    /// <summary>The settings of the librdkafka client itself: a change to one of these needs a new consumer.</summary>
    private sealed record ClientSettings(string Bootstrap, string Group, string Topic, TimeSpan CommitInterval, TimeSpan SessionTimeout, TimeSpan MaxPollInterval)
    {
        public static ClientSettings From(KafkaOptions settings, string bootstrap) =>
            new(bootstrap, settings.LedgerGroup, settings.PaymentsTopic, settings.CommitInterval, settings.SessionTimeout, settings.MaxPollInterval);
    }

    [LoggerMessage(EventId = 5024, Level = LogLevel.Warning, Message = "Could not apply a batch of {Count} messages from {Position}; it will be read again")]
    private partial void LogApplyFailed(int count, string position, Exception exception);

    [LoggerMessage(EventId = 5026, Level = LogLevel.Debug, Message = "Did not store the offset of {Partition}: no longer assigned to this consumer")]
    private partial void LogStoreSkipped(string partition);

    [LoggerMessage(EventId = 5029, Level = LogLevel.Information, Message = "Abandoned a batch of {Count} messages: the handler's settings changed; reading it again")]
    private partial void LogBatchAbandoned(int count);

    [LoggerMessage(EventId = 5027, Level = LogLevel.Warning, Message = "Left the ledger group: {Reason}; rejoining")]
    private partial void LogPollTimeout(string reason);

    [LoggerMessage(EventId = 5028, Level = LogLevel.Information, Message = "Ledger consumer {Consumer} assigned partitions [{Partitions}]")]
    private partial void LogAssigned(int consumer, string partitions);

    [LoggerMessage(EventId = 5022, Level = LogLevel.Warning, Message = "Ledger consumer failed; restarting it")]
    private partial void LogConsumerFailed(Exception exception);

    [LoggerMessage(EventId = 5023, Level = LogLevel.Debug, Message = "librdkafka {Level}: {Message}")]
    private partial void LogKafka(string level, string message);
}
