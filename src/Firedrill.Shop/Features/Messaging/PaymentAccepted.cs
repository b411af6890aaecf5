namespace Firedrill.Shop.Features.Messaging;

/// <summary>
/// Published on the payments topic, keyed by order, for every committed payment. The event id
/// is derived from the payment, so a relay that publishes twice publishes the same event.
/// </summary>
public sealed record PaymentAccepted(string EventId, long PaymentId, long OrderId, decimal Amount, string Currency, DateTime OccurredAt)
{
    public static string IdFor(long paymentId) => $"payment-accepted-{paymentId}";
}
