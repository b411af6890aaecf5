namespace Firedrill.Shop.Features.Payments;

public sealed record PaymentRequest(long? OrderId, decimal? Amount, string? Currency);

public sealed record Payment(long Id, long OrderId, decimal Amount, string Currency, string Status);

/// <summary>The answer to a request as first given, kept so a retry with the same key gets it again.</summary>
internal sealed record StoredResponse(int Status, string Body, string? Location);

/// <summary>What a payment request came to.</summary>
internal abstract record PaymentOutcome
{
    /// <summary>Charged now: the response as first given.</summary>
    public sealed record Created(StoredResponse Response) : PaymentOutcome;

    /// <summary>A retry of a request already done: its first response, replayed.</summary>
    public sealed record Replayed(StoredResponse Response) : PaymentOutcome;

    /// <summary>Another request with this key has not finished.</summary>
    public sealed record KeyInFlight : PaymentOutcome;

    /// <summary>The key was used with another payload.</summary>
    public sealed record KeyReused : PaymentOutcome;

    /// <summary>The order has an accepted payment already (under another key, or none).</summary>
    public sealed record AlreadyPaid(long PaymentId) : PaymentOutcome;
}

/// <summary>What an order says about a payment for it: what it costs, and whether it is paid.</summary>
internal sealed record OrderToPay(long Id, decimal Total, string Currency, string Status);

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
