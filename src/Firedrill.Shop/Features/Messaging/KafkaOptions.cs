using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace Firedrill.Shop.Features.Messaging;

public sealed class KafkaOptions
{
    public const string SectionName = "Kafka";

    /// <summary>A real cluster's <c>bootstrap.servers</c>. Empty: this process hosts librdkafka's mock cluster.</summary>
    public string? BootstrapServers { get; set; }

    [Range(1, 10)]
    public int MockBrokers { get; set; } = 3;

    [Required, RegularExpression("^[A-Za-z0-9._-]{1,200}$")]
    public string PaymentsTopic { get; set; } = "payments";

    /// <summary>Where the ledger consumer copies a message it can never apply, with the reason in a header.</summary>
    [Required, RegularExpression("^[A-Za-z0-9._-]{1,200}$")]
    public string DeadLetterTopic { get; set; } = "payments.dead-letter";

    [Required, RegularExpression("^[A-Za-z0-9._-]{1,200}$")]
    public string LedgerGroup { get; set; } = "ledger";

    /// <summary>Relay the outbox to Kafka.</summary>
    public bool RelayEnabled { get; set; } = true;

    [Range(typeof(TimeSpan), "00:00:00.010", "00:01:00")]
    public TimeSpan RelayInterval { get; set; } = TimeSpan.FromMilliseconds(200);

    [Range(1, 10_000)]
    public int RelayBatchSize { get; set; } = 500;

    /// <summary>How long the producer tries to deliver before the relay gives up and retries later.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "00:05:00")]
    public TimeSpan DeliveryTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Apply payment events to the ledger (the consumer group runs in every replica).</summary>
    public bool ConsumerEnabled { get; set; } = true;

    /// <summary>
    /// Ledger consumers in each replica, each a member of the group with its own librdkafka client
    /// and thread. The group hands each partition to one member, so members beyond the partition
    /// count own nothing (the consumer-lag incident's idle consumers).
    /// </summary>
    [Range(1, MaxConsumersPerReplica)]
    public int ConsumersPerReplica { get; set; } = 1;

    public const int MaxConsumersPerReplica = 8;

    /// <summary>
    /// Events the ledger consumer applies per database transaction. A transaction's cost is mostly
    /// its commit (a WAL flush), so a backlog drains hundreds of times faster in batches. 1 = one
    /// transaction per event: the row-at-a-time consumer that falls behind in the consumer-lag incident.
    /// </summary>
    [Range(1, 10_000)]
    public int ApplyBatchSize { get; set; } = 500;

    /// <summary>
    /// After a batch's first message, how long the consumer keeps filling the batch before applying
    /// it: a trickle is applied within this delay, while a backlog, already fetched, fills whole batches at once.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:00:05")]
    public TimeSpan ApplyBatchWait { get; set; } = TimeSpan.FromMilliseconds(20);

    /// <summary>
    /// Commit synchronously after every applied batch (every message, with <see cref="ApplyBatchSize"/> 1),
    /// which is slow, instead of storing offsets and committing in the background.
    /// </summary>
    public bool CommitEveryMessage { get; set; }

    /// <summary>Call the inventory service for every event applied (a handler with a downstream step per event).</summary>
    public bool DownstreamCallPerMessage { get; set; }

    /// <summary>
    /// Events a consumer handles at once, in order per message key: events of one key one after
    /// the other, different keys side by side. 1 = one event at a time (the consumer-lag incident's
    /// sequential handler), so a consumer's capacity is one downstream call's latency.
    /// </summary>
    [Range(1, 256)]
    public int HandlerParallelism { get; set; } = 16;

    /// <summary>What a payment event is keyed by, and so partitioned by.</summary>
    public PaymentsKey PaymentsKey { get; set; } = PaymentsKey.Order;

    /// <summary>How often stored offsets are committed in the background (batched commits).</summary>
    [Range(typeof(TimeSpan), "00:00:00.050", "00:01:00")]
    public TimeSpan CommitInterval { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>
    /// How long the group waits for a silent member before rebalancing its partitions. A restarted or
    /// replaced member should rejoin within seconds, not the 45 s default.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:03", "00:05:00")]
    public TimeSpan SessionTimeout { get; set; } = TimeSpan.FromSeconds(6);

    /// <summary>
    /// <c>max.poll.interval.ms</c>: a consumer that does not poll for this long (its handler is still
    /// busy) leaves the group, and its partitions move to another member.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:03", "1.00:00:00")]
    public TimeSpan MaxPollInterval { get; set; } = TimeSpan.FromMinutes(5);
}

/// <summary>The key of a payment event: it chooses the partition, and the handler keeps order per key.</summary>
public enum PaymentsKey
{
    /// <summary>The order: events of one order stay in order, and orders spread over every partition.</summary>
    Order,

    /// <summary>
    /// The currency: every payment here is in EUR, so every event lands on one partition and has one
    /// key (the consumer-lag incident's hot partition).
    /// </summary>
    Currency,
}

[OptionsValidator]
internal sealed partial class KafkaOptionsAttributesValidator : IValidateOptions<KafkaOptions>;

/// <summary>The attributes' rules, plus librdkafka's own: <c>max.poll.interval.ms</c> ≥ <c>session.timeout.ms</c>.</summary>
internal sealed class KafkaOptionsValidator : IValidateOptions<KafkaOptions>
{
    private readonly KafkaOptionsAttributesValidator _attributes = new();

    public ValidateOptionsResult Validate(string? name, KafkaOptions options)
    {
        var result = _attributes.Validate(name, options);
        if (result.Failed || options.MaxPollInterval >= options.SessionTimeout)
        {
            return result;
        }

        return ValidateOptionsResult.Fail(
            $"Kafka:MaxPollInterval ({options.MaxPollInterval}) must be at least Kafka:SessionTimeout ({options.SessionTimeout}).");
    }
}
