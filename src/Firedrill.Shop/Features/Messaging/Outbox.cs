using System.Diagnostics;
using System.Text.Json;
using Dapper;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Firedrill.Shop.Features.Messaging;

/// <summary>
/// Writes a message to the outbox in the caller's transaction: if the change commits, the
/// message will be published; if it rolls back, it never existed. The current trace context
/// is kept with it, so the consumer's work joins the request's trace.
/// </summary>
internal sealed class Outbox(IOptionsMonitor<KafkaOptions> options, TimeProvider time)
{
    public Task AddPaymentAcceptedAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, PaymentAccepted message, CancellationToken cancellationToken) =>
        connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO outbox (topic, message_key, event_id, payload, traceparent, created_at)
            VALUES (@topic, @key, @eventId, @payload, @traceparent, @now)
            """,
            new
            {
                topic = options.CurrentValue.PaymentsTopic,
                key = MessageKey(message, options.CurrentValue.PaymentsKey),
                eventId = message.EventId,
                payload = JsonSerializer.Serialize(message, JsonSerializerOptions.Web),
                traceparent = Activity.Current?.Id,
                now = time.GetUtcNow().UtcDateTime,
            },
            transaction, cancellationToken: cancellationToken));

    /// <summary>
    /// The key chooses the partition and the handler's order. By order (the default), load spreads
    /// over every partition. By currency (<see cref="PaymentsKey.Currency"/>) reproduces the
    /// kafka-consumer-lag incident's hot partition: every payment here is in EUR, so one key takes
    /// every event, one partition holds them and one consumer handles them, one after the other.
    /// </summary>
    internal static string MessageKey(PaymentAccepted message, PaymentsKey key) => key switch
    {
        PaymentsKey.Currency => message.Currency,
        _ => message.OrderId.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };
}
