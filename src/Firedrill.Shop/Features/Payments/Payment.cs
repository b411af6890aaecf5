namespace Firedrill.Shop.Features.Payments;

public sealed record PaymentRequest(long? OrderId, decimal? Amount, string? Currency);

public sealed record Payment(long Id, long OrderId, decimal Amount, string Currency, string Status);

/// <summary>The answer to a request as first given, kept so a retry with the same key gets it again.</summary>
internal sealed record StoredResponse(int Status, string Body, string? Location);

/// <summary>What claiming an Idempotency-Key came to.</summary>
internal abstract record KeyClaim
{
    /// <summary>This request owns the key and must do the work.</summary>
    public sealed record Claimed : KeyClaim;

    /// <summary>The work was done: answer what was answered then.</summary>
    public sealed record Completed(StoredResponse Response) : KeyClaim;

    /// <summary>Another request holds the key and has not finished.</summary>
    public sealed record InFlight : KeyClaim;

    /// <summary>The key was used with another payload.</summary>
    public sealed record Mismatch : KeyClaim;
}
