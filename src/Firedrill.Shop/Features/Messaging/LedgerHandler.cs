using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Text;
using System.Text.Json;
using Confluent.Kafka;
using Firedrill.Shop.Features.Inventory;
using Firedrill.Shop.Observability;

namespace Firedrill.Shop.Features.Messaging;

/// <summary>
/// Handles one batch the ledger consumer read: each event's downstream step (when there is one),
/// then the whole batch applied to the ledger in one statement. Events of one message key are
/// handled in the order they were read; different keys side by side, up to
/// <see cref="KafkaOptions.HandlerParallelism"/> at once.
/// </summary>
internal sealed partial class LedgerHandler(
    LedgerWriter ledger,
    DeadLetters deadLetters,
    IServiceScopeFactory scopes,
    MessagingMetrics metrics,
    IMeterFactory meters,
    TimeProvider time,
    ILogger<LedgerHandler> logger)
{
    // numeric(14, 2): a larger amount would fail its whole batch, every time it is read.
    private const decimal LedgerAmountLimit = 1_000_000_000_000m;

    private readonly Counter<long> _events = meters.Create(ShopMetrics.MeterName).CreateCounter<long>(
        "firedrill.ledger.events", "{event}", "Payment events applied to the ledger, by delivery (first, or redelivered and absorbed).");

    private readonly Histogram<int> _batchSizes = meters.Create(ShopMetrics.MeterName).CreateHistogram<int>(
        "firedrill.ledger.batch.size", "{message}", "Messages applied per ledger transaction.");

    public async Task HandleAsync(IReadOnlyList<ConsumeResult<string, string>> batch, KafkaOptions settings, CancellationToken cancellationToken)
    {
        var events = new List<Incoming>(batch.Count);
        foreach (var result in batch)
        {
            var (message, refused) = Read(result.Message.Value);
            if (message is not null)
            {
                events.Add(new Incoming(message, result.Message.Key ?? "", ParentContext(result.Message.Headers)));
            }
            else
            {
                // Before the batch is stored: a copy that cannot be delivered fails the batch, which is read again.
                LogPoisonMessage(result.TopicPartitionOffset.ToString(), refused!);
                await deadLetters.SendAsync(result, refused!, cancellationToken);
            }
        }

        foreach (var partition in batch.GroupBy(result => result.Partition.Value))
        {
            metrics.Consumed(partition.Key, partition.Count());
        }

        if (events.Count == 0)
        {
            return;
        }

        if (settings.DownstreamCallPerMessage)
        {
            await using var scope = scopes.CreateAsyncScope();
            var inventory = scope.ServiceProvider.GetRequiredService<InventoryClient>();
            await (settings.HandlerParallelism == 1
                ? CheckInventorySequentiallyAsync(inventory, events, cancellationToken)
                : CheckInventoryInParallelByKeyAsync(inventory, events, settings.HandlerParallelism, cancellationToken));
        }

        await ApplyAsync(batch.Count, events, cancellationToken);
    }

    /// <summary>
    /// The kafka-consumer-lag incident's sequential handler (<c>Kafka:HandlerParallelism=1</c>): one
    /// event at a time, so a consumer handles at most one event per downstream call's latency, and
    /// the only way to add capacity is to add consumers — which stops at the partition count.
    /// </summary>
    private async Task CheckInventorySequentiallyAsync(InventoryClient inventory, List<Incoming> events, CancellationToken cancellationToken)
    {
        foreach (var incoming in events)
        {
            await CheckInventoryAsync(inventory, incoming, cancellationToken);
        }
    }

    /// <summary>
    /// Bounded parallelism that keeps per-key order (as Confluent's parallel consumer does with KEY
    /// ordering): each key's events run one after the other, different keys side by side. The
    /// capacity of one consumer becomes parallelism ÷ latency, as long as the keys spread.
    /// </summary>
    private async Task CheckInventoryInParallelByKeyAsync(InventoryClient inventory, List<Incoming> events, int parallelism, CancellationToken cancellationToken)
    {
        // GroupBy keeps the order of the events within each key.
        var byKey = events.GroupBy(incoming => incoming.Key, StringComparer.Ordinal);
        await Parallel.ForEachAsync(byKey, new ParallelOptions { MaxDegreeOfParallelism = parallelism, CancellationToken = cancellationToken },
            async (key, token) =>
            {
                foreach (var incoming in key)
                {
                    await CheckInventoryAsync(inventory, incoming, token);
                }
            });
    }

    private async Task CheckInventoryAsync(InventoryClient inventory, Incoming incoming, CancellationToken cancellationToken)
    {
        var started = time.GetTimestamp();
        using var activity = LedgerConsumer.Source.StartActivity("ledger inventory check", ActivityKind.Consumer, incoming.Parent);
        var orderId = incoming.Event.OrderId;
        await inventory.GetAvailabilityAsync(orderId, $"SKU-{orderId % 1000 + 1:D6}", cancellationToken);
        metrics.Handled(time.GetElapsedTime(started));
    }

    private async Task ApplyAsync(int messages, List<Incoming> events, CancellationToken cancellationToken)
    {
        HashSet<string> fresh;
        using (var activity = LedgerConsumer.Source.StartActivity("ledger apply", ActivityKind.Consumer, parentContext: default,
            links: events.Where(e => e.Parent != default).Select(e => new ActivityLink(e.Parent))))
        {
            activity?.SetTag("messaging.batch.message_count", messages);
            fresh = await ledger.ApplyAsync(events.Select(e => e.Event), cancellationToken);
        }

        _batchSizes.Record(messages);
        _events.Add(fresh.Count, new KeyValuePair<string, object?>("delivery", "first"));
        _events.Add(events.Count - fresh.Count, new KeyValuePair<string, object?>("delivery", "redelivered"));
        LogBatchApplied(messages, fresh.Count);
        foreach (var (message, _, parent) in events)
        {
            // A span in the producer's trace, so that this line carries the payment request's
            // TraceId: `firedrill trace` follows a payment from the request to the ledger by it.
            using var activity = parent == default ? null : LedgerConsumer.Source.StartActivity("ledger applied", ActivityKind.Consumer, parent);
            // Remove: a second copy of an event in the same batch was not its first delivery.
            LogApplied(message.EventId, fresh.Remove(message.EventId));
        }
    }

    /// <summary>
    /// The event, or why no retry could ever apply the message (unreadable, or refused by the
    /// ledger's columns): retried, it would hold back its whole batch for good.
    /// </summary>
    internal static (PaymentAccepted? Event, string? Refused) Read(string? value)
    {
        PaymentAccepted? message;
        try
        {
            message = value is null ? null : JsonSerializer.Deserialize<PaymentAccepted>(value, JsonSerializerOptions.Web);
        }
        catch (JsonException ex)
        {
            return (null, "unreadable: " + ex.Message);
        }

        return message switch
        {
            null => (null, "unreadable: no payment event"),
            { EventId: null or "" } => (null, "invalid: no event id"),
            { Currency: null or "" } or { Currency.Length: > 3 } => (null, "invalid: currency is not a three-letter code"),
            _ when Math.Abs(Math.Round(message.Amount, 2, MidpointRounding.AwayFromZero)) >= LedgerAmountLimit => (null, "invalid: amount beyond the ledger's numeric(14, 2)"),
            _ => (message, null),
        };
    }

    private static ActivityContext ParentContext(Headers headers) =>
        headers.TryGetLastBytes(MessageHeaders.TraceParent, out var bytes)
            && ActivityContext.TryParse(Encoding.UTF8.GetString(bytes), null, isRemote: true, out var context)
            ? context
            : default;

    private sealed record Incoming(PaymentAccepted Event, string Key, ActivityContext Parent);

    [LoggerMessage(EventId = 5020, Level = LogLevel.Information, Message = "Payment event {EventId} applied to the ledger (first delivery: {FirstDelivery})")]
    private partial void LogApplied(string eventId, bool firstDelivery);

    [LoggerMessage(EventId = 5021, Level = LogLevel.Error, Message = "Could never apply the message at {Position} ({Reason}); sending it to the dead-letter topic")]
    private partial void LogPoisonMessage(string position, string reason);

    [LoggerMessage(EventId = 5025, Level = LogLevel.Debug, Message = "Applied a batch of {Count} messages in one transaction ({FirstDeliveries} first deliveries)")]
    private partial void LogBatchApplied(int count, int firstDeliveries);
}
