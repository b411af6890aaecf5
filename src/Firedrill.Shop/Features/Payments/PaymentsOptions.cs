using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace Firedrill.Shop.Features.Payments;

public sealed class PaymentsOptions
{
    public const string SectionName = "Payments";

    /// <summary>
    /// How long a request may hold an Idempotency-Key before another may take it over: a
    /// replica that crashed mid-request must not block the key forever.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan IdempotencyLease { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Enforce Idempotency-Key. Off is the duplicate-payments incident's broken code path: the
    /// key is ignored, so every retry of a payment whose answer came too late charges again.
    /// </summary>
    public bool IdempotencyEnabled { get; set; } = true;

    /// <summary>
    /// Refuse a payment for an order that is already paid (409), checked under the order's row
    /// lock. Off, with the unique index <c>payments_one_accepted_per_order</c> absent, is the
    /// duplicate-payments incident's second missing defence: the order accepts any number of charges.
    /// </summary>
    public bool OnePaymentPerOrder { get; set; } = true;

    /// <summary>
    /// After committing, confirm the order's stock with the inventory service before answering.
    /// A slow inventory then really delays the answer past the client's timeout — after the
    /// payment is already committed — which is when retries charge twice.
    /// </summary>
    public bool ConfirmWithInventoryAfterCommit { get; set; }

    [Range(typeof(decimal), "0.01", "1000000000")]
    public decimal MaxAmount { get; set; } = 1_000_000m;
}

[OptionsValidator]
internal sealed partial class PaymentsOptionsValidator : IValidateOptions<PaymentsOptions>;
