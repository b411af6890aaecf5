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

    /// <summary>
    /// Keep the request's W3C trace context with each outbox message, so the relay publishes it as
    /// the <c>traceparent</c> header and the consumer's work joins the payment's trace. False is the
    /// uncorrelated-logs incident's "no-kafka-propagation": the consumer's lines start a new trace.
    /// </summary>
    public bool PropagateTraceContext { get; set; } = true;

    /// <summary>Call the inventory service, synchronously, for every event applied (the slow handler of the lag incident).</summary>
    public bool DownstreamCallPerMessage { get; set; }
}

[OptionsValidator]
internal sealed partial class KafkaOptionsValidator : IValidateOptions<KafkaOptions>;
