using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Dapper;
using Firedrill.Shop.Data;
using Firedrill.Shop.Features.Inventory;
using Firedrill.Shop.Features.Messaging;
using Firedrill.Shop.Features.Orders;
using Firedrill.Shop.Observability;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Firedrill.Shop.Features.Payments;

/// <summary>
/// Takes payments with two defences against charging an order twice: the Idempotency-Key (a
/// retry of one request is answered, not charged again) and the order itself (one accepted payment
/// per order, checked under the order's row lock and enforced by a unique index).
/// </summary>
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
    public const string OneAcceptedPerOrderIndex = "payments_one_accepted_per_order";

    /// <summary>
    /// Takes a payment at most once per key: claim the key, then write the payment and the
    /// response it got in one transaction. A repeat gets that response replayed; a repeat while
    /// the first is still running gets <see cref="PaymentOutcome.KeyInFlight"/>; the key with
    /// another payload gets <see cref="PaymentOutcome.KeyReused"/>.
    /// </summary>
    public async Task<PaymentOutcome> PayOnceAsync(string key, long orderId, decimal amount, string currency, CancellationToken cancellationToken)
    {
        if (!options.CurrentValue.IdempotencyEnabled)
        {
            return await PayIgnoringKeyAsync(key, orderId, amount, currency, cancellationToken);
        }

        var claim = await keys.ClaimAsync(key, Fingerprint(orderId, amount, currency), options.CurrentValue.IdempotencyLease, cancellationToken);
        switch (claim)
        {
            case KeyClaim.Completed completed:
                metrics.Idempotency(IdempotencyOutcome.Replayed);
                return new PaymentOutcome.Replayed(completed.Response);
            case KeyClaim.InFlight:
                metrics.Idempotency(IdempotencyOutcome.InFlight);
                return new PaymentOutcome.KeyInFlight();
            case KeyClaim.Mismatch:
                metrics.Idempotency(IdempotencyOutcome.Mismatch);
                return new PaymentOutcome.KeyReused();
        }

        try
        {
            var outcome = await InsertAsync(key, orderId, amount, currency, recordKey: true, cancellationToken);
            if (outcome is not PaymentOutcome.Created)
            {
                // Nothing was charged under this key: give it back, so it holds no stale claim.
                await keys.ReleaseAsync(key);
                return outcome;
            }

            metrics.Idempotency(IdempotencyOutcome.Created);
            await ConfirmWithInventoryAsync(orderId, cancellationToken);
            return outcome;
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
    private async Task<PaymentOutcome> PayIgnoringKeyAsync(string key, long orderId, decimal amount, string currency, CancellationToken cancellationToken)
    {
        var outcome = await InsertAsync(key, orderId, amount, currency, recordKey: false, cancellationToken);
        if (outcome is PaymentOutcome.Created)
        {
            await ConfirmWithInventoryAsync(orderId, cancellationToken);
        }

        return outcome;
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

    public async Task<OrderToPay?> FindOrderAsync(long orderId, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        return await connection.QuerySingleOrDefaultAsync<OrderToPay>(new CommandDefinition(
            "SELECT id AS Id, total AS Total, trim(currency) AS Currency, status AS Status FROM orders WHERE id = @orderId",
            new { orderId }, cancellationToken: cancellationToken));
    }

    public async Task<Payment?> FindAsync(long id, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        return await connection.QuerySingleOrDefaultAsync<Payment>(new CommandDefinition(
            "SELECT id AS Id, order_id AS OrderId, amount AS Amount, trim(currency) AS Currency, status AS Status FROM payments WHERE id = @id",
            new { id }, cancellationToken: cancellationToken));
    }

    /// <summary>
    /// One transaction: lock the order, refuse it if it is paid already, write the payment (the
    /// unique index refuses a second accepted payment whatever got past the check), mark the order
    /// paid, record the key's response and the outbox event, commit.
    /// </summary>
    private async Task<PaymentOutcome> InsertAsync(string key, long orderId, decimal amount, string currency, bool recordKey, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var status = await connection.ExecuteScalarAsync<string>(new CommandDefinition(
            "SELECT status FROM orders WHERE id = @orderId FOR UPDATE", new { orderId }, transaction, cancellationToken: cancellationToken));
        var alreadyPaid = status == OrderStore.PaidStatus;
        if (alreadyPaid && options.CurrentValue.OnePaymentPerOrder)
        {
            return new PaymentOutcome.AlreadyPaid(await AcceptedPaymentAsync(connection, transaction, orderId, cancellationToken));
        }

        Payment payment;
        try
        {
            payment = await connection.QuerySingleAsync<Payment>(new CommandDefinition(
                """
                INSERT INTO payments (order_id, amount, currency, status, idempotency_key, created_at)
                VALUES (@orderId, @amount, @currency, @status, @key, @now)
                RETURNING id AS Id, order_id AS OrderId, amount AS Amount, trim(currency) AS Currency, status AS Status
                """,
                new { orderId, amount, currency, status = AcceptedStatus, key, now = time.GetUtcNow().UtcDateTime },
                transaction, cancellationToken: cancellationToken));
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.UniqueViolation && ex.ConstraintName == OneAcceptedPerOrderIndex)
        {
            await transaction.RollbackAsync(cancellationToken);
            await using var reader = await database.OpenConnectionAsync(cancellationToken);
            return new PaymentOutcome.AlreadyPaid(await AcceptedPaymentAsync(reader, null, orderId, cancellationToken));
        }

        await connection.ExecuteAsync(new CommandDefinition(
            "UPDATE orders SET status = @paid WHERE id = @orderId", new { orderId, paid = OrderStore.PaidStatus }, transaction, cancellationToken: cancellationToken));
        var response = new StoredResponse(StatusCodes.Status201Created, JsonSerializer.Serialize(payment, json.Value.SerializerOptions), $"/payments/{payment.Id}");
        if (recordKey)
        {
            await IdempotencyStore.CompleteAsync(connection, transaction, key, response, cancellationToken);
        }

        // In the payment's transaction: no payment without its event, no event without its payment.
        await outbox.AddPaymentAcceptedAsync(connection, transaction, new PaymentAccepted(
            PaymentAccepted.IdFor(payment.Id), payment.Id, orderId, payment.Amount, payment.Currency, time.GetUtcNow().UtcDateTime), cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        metrics.PaymentWritten(duplicate: alreadyPaid);
        LogPaymentAccepted(payment.Id, orderId);
        return new PaymentOutcome.Created(response);
    }

    private static Task<long> AcceptedPaymentAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, long orderId, CancellationToken cancellationToken) =>
        connection.ExecuteScalarAsync<long>(new CommandDefinition(
            "SELECT id FROM payments WHERE order_id = @orderId AND status = @accepted ORDER BY id LIMIT 1",
            new { orderId, accepted = AcceptedStatus }, transaction, cancellationToken: cancellationToken));

    /// <summary>The payload's identity: its parsed values, so formatting differences don't count as another payload.</summary>
    internal static byte[] Fingerprint(long orderId, decimal amount, string currency) =>
        SHA256.HashData(Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{orderId}|{amount:0.00}|{currency}")));

    [LoggerMessage(EventId = 3001, Level = LogLevel.Information, Message = "Payment {PaymentId} accepted for order {OrderId}")]
    private partial void LogPaymentAccepted(long paymentId, long orderId);
}
