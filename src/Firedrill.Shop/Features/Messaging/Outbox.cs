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
                key = message.OrderId.ToString(System.Globalization.CultureInfo.InvariantCulture),
                eventId = message.EventId,
                payload = JsonSerializer.Serialize(message, JsonSerializerOptions.Web),
                traceparent = options.CurrentValue.PropagateTraceContext ? Activity.Current?.Id : null,
                now = time.GetUtcNow().UtcDateTime,
            },
            transaction, cancellationToken: cancellationToken));
}
