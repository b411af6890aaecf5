using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Dapper;
using Firedrill.Shop.Data;
using Firedrill.Shop.Features.Inventory;
using Firedrill.Shop.Features.Messaging;
using Firedrill.Shop.Observability;
using Microsoft.Extensions.Options;

namespace Firedrill.Shop.Features.Payments;

internal sealed partial class PaymentService(
    ShopDatabase database,
    IdempotencyStore keys,
    IServiceScopeFactory scopes,
    Outbox outbox,
    IOptionsMonitor<PaymentsOptions> options,
    IOptions<Microsoft.AspNetCore.Http.Json.JsonOptions> json,
    TimeProvider time,
    ShopMetrics metrics,
    ILogger<PaymentService> logger)
{
    public const string AcceptedStatus = "accepted";

    /// <summary>
    /// Takes a payment at most once per key: claim the key, then write the payment and the
    /// response it got in one transaction. A repeat gets that response replayed; a repeat while
    /// the first is still running gets <see cref="KeyClaim.InFlight"/>; the key with another
    /// payload gets <see cref="KeyClaim.Mismatch"/>.
    /// </summary>
    public async Task<(KeyClaim Claim, StoredResponse? Response)> PayOnceAsync(string key, long orderId, decimal amount, string currency, CancellationToken cancellationToken)
    {
        if (!options.CurrentValue.IdempotencyEnabled)
        {
            return (new KeyClaim.Claimed(), await PayWithoutIdempotencyAsync(key, orderId, amount, currency, cancellationToken));
        }

        var claim = await keys.ClaimAsync(key, Fingerprint(orderId, amount, currency), options.CurrentValue.IdempotencyLease, cancellationToken);
        switch (claim)
        {
            case KeyClaim.Completed completed:
                metrics.Idempotency(IdempotencyOutcome.Replayed);
                return (claim, completed.Response);
            case KeyClaim.InFlight:
                metrics.Idempotency(IdempotencyOutcome.InFlight);
                return (claim, null);
            case KeyClaim.Mismatch:
                metrics.Idempotency(IdempotencyOutcome.Mismatch);
                return (claim, null);
        }

        try
        {
            var response = await InsertAsync(key, orderId, amount, currency, recordKey: true, cancellationToken);
            metrics.Idempotency(IdempotencyOutcome.Created);
            await ConfirmWithInventoryAsync(orderId, cancellationToken);
            return (claim, response);
        }
        catch
        {
            await keys.ReleaseAsync(key);
            throw;
        }
    }

    /// <summary>
    /// The duplicate-payments incident's broken code path: the key is ignored, every request
    /// charges. Beside the correct path so a reader sees both; selected by
    /// <c>Payments:IdempotencyEnabled=false</c>.
    /// </summary>
    private async Task<StoredResponse> PayWithoutIdempotencyAsync(string key, long orderId, decimal amount, string currency, CancellationToken cancellationToken)
    {
        var response = await InsertAsync(key, orderId, amount, currency, recordKey: false, cancellationToken);
        await ConfirmWithInventoryAsync(orderId, cancellationToken);
        return response;
    }

    /// <summary>A post-commit call: when inventory is slow, the answer leaves after the payment is already committed.</summary>
    private async Task ConfirmWithInventoryAsync(long orderId, CancellationToken cancellationToken)
    {
        if (!options.CurrentValue.ConfirmWithInventoryAfterCommit)
        {
            return;
        }

        string? sku;
        await using (var connection = await database.OpenConnectionAsync(cancellationToken))
        {
            sku = await connection.ExecuteScalarAsync<string?>(new CommandDefinition(
                "SELECT p.sku FROM order_lines l JOIN products p ON p.id = l.product_id WHERE l.order_id = @orderId ORDER BY l.line_no LIMIT 1",
                new { orderId }, cancellationToken: cancellationToken));
        }

        if (sku is not null)
        {
            await using var scope = scopes.CreateAsyncScope();
            await scope.ServiceProvider.GetRequiredService<InventoryClient>().GetAvailabilityAsync(orderId, sku, cancellationToken);
        }
    }

    public async Task<bool> OrderExistsAsync(long orderId, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        return await connection.ExecuteScalarAsync<bool>(new CommandDefinition(
            "SELECT EXISTS (SELECT 1 FROM orders WHERE id = @orderId)", new { orderId }, cancellationToken: cancellationToken));
    }

    public async Task<Payment?> FindAsync(long id, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        return await connection.QuerySingleOrDefaultAsync<Payment>(new CommandDefinition(
            "SELECT id AS Id, order_id AS OrderId, amount AS Amount, trim(currency) AS Currency, status AS Status FROM payments WHERE id = @id",
            new { id }, cancellationToken: cancellationToken));
    }

    private async Task<StoredResponse> InsertAsync(string key, long orderId, decimal amount, string currency, bool recordKey, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var payment = await connection.QuerySingleAsync<Payment>(new CommandDefinition(
            """
            INSERT INTO payments (order_id, amount, currency, status, idempotency_key, created_at)
            VALUES (@orderId, @amount, @currency, @status, @key, @now)
            RETURNING id AS Id, order_id AS OrderId, amount AS Amount, trim(currency) AS Currency, status AS Status
            """,
            new { orderId, amount, currency, status = AcceptedStatus, key, now = time.GetUtcNow().UtcDateTime },
            transaction, cancellationToken: cancellationToken));

        var response = new StoredResponse(StatusCodes.Status201Created, JsonSerializer.Serialize(payment, json.Value.SerializerOptions), $"/payments/{payment.Id}");
        if (recordKey)
        {
            await IdempotencyStore.CompleteAsync(connection, transaction, key, response, cancellationToken);
        }

        // In the payment's transaction: no payment without its event, no event without its payment.
        await outbox.AddPaymentAcceptedAsync(connection, transaction, new PaymentAccepted(
            PaymentAccepted.IdFor(payment.Id), payment.Id, orderId, payment.Amount, payment.Currency, time.GetUtcNow().UtcDateTime), cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        LogPaymentAccepted(payment.Id, orderId);
        return response;
    }

    /// <summary>The payload's identity: its parsed values, so formatting differences don't count as another payload.</summary>
    internal static byte[] Fingerprint(long orderId, decimal amount, string currency) =>
        SHA256.HashData(Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{orderId}|{amount:0.00}|{currency}")));

    [LoggerMessage(EventId = 3001, Level = LogLevel.Information, Message = "Payment {PaymentId} accepted for order {OrderId}")]
    private partial void LogPaymentAccepted(long paymentId, long orderId);
}
