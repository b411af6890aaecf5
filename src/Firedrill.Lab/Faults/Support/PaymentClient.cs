using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;

namespace Firedrill.Lab.Faults.Support;

/// <summary>What one payer saw: the client's own record, which the audit holds against the database.</summary>
internal sealed class PaymentRecord(long orderId, decimal amount, string key)
{
    public long OrderId { get; } = orderId;

    public decimal Amount { get; } = amount;

    public string Key { get; } = key;

    /// <summary>The shop answered 201 (first or replayed): the customer was told they paid.</summary>
    public bool Acknowledged { get; set; }

    /// <summary>The payment the acknowledgement named.</summary>
    public long? PaymentId { get; set; }

    public int Attempts { get; set; }

    /// <summary>Failed attempts (5xx, timeout, a broken connection) before the answer.</summary>
    public int Failures { get; set; }

    /// <summary>Answers carrying <c>Idempotent-Replayed: true</c>.</summary>
    public int Replays { get; set; }

    /// <summary>When the first attempt failed and when the payment was acknowledged (seconds on the fault's clock).</summary>
    public double? FirstFailureAt { get; set; }

    public double? AcknowledgedAt { get; set; }

    /// <summary>A 4xx that retrying cannot change (the client's own mistake): status and title.</summary>
    public string? Refused { get; set; }
}

/// <summary>
/// A payment client as payment clients are written (Stripe's advice, the idempotency-key draft):
/// one key per payment, the same key and body on every retry, retries on timeouts, broken
/// connections, 5xx and 409 "in progress", with jittered exponential backoff; bounded in attempts
/// and time. Every attempt is recorded on the fault's clock.
/// </summary>
internal sealed class PaymentClient(HttpClient client, FaultClock clock, TimeSpan attemptTimeout, int maxAttempts = 12, double giveUpAfterSeconds = 25)
{
    public const string Endpoint = "payment";

    /// <summary>Pays <paramref name="order"/> through <c>/api/payments</c> (the client's base address is the gateway, or a proxy in front of it).</summary>
    public async Task<PaymentRecord> PayAsync(OrderToPay order, CancellationToken cancellationToken)
    {
        var record = new PaymentRecord(order.Id, order.Total, Guid.NewGuid().ToString("N"));
        var body = string.Create(CultureInfo.InvariantCulture, $$"""{"orderId": {{order.Id}}, "amount": {{order.Total}}, "currency": "EUR"}""");
        var giveUpAt = clock.Now + giveUpAfterSeconds;
        for (var attempt = 1; attempt <= maxAttempts && clock.Now < giveUpAt; attempt++)
        {
            record.Attempts = attempt;
            if (await AttemptAsync(record, body, cancellationToken))
            {
                return record;
            }

            // Full jitter on 100 ms × 2^n, at most 1 s: retries from many clients don't arrive together.
            var ceiling = Math.Min(1000, 100 * Math.Pow(2, attempt - 1));
            await Task.Delay(TimeSpan.FromMilliseconds(ceiling * (0.5 + (Random.Shared.NextDouble() / 2))), cancellationToken);
        }

        return record;
    }

    /// <returns>True when the payment is settled (acknowledged, or refused for good).</returns>
    private async Task<bool> AttemptAsync(PaymentRecord record, string body, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/payments") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Add("Idempotency-Key", record.Key);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(attemptTimeout);
        var started = Stopwatch.GetTimestamp();
        try
        {
            using var response = await client.SendAsync(request, timeout.Token);
            var text = await response.Content.ReadAsStringAsync(timeout.Token);
            var status = (int)response.StatusCode;
            clock.Record(Endpoint, started, status.ToString(CultureInfo.InvariantCulture), error: status >= 500);
            if (response.StatusCode == HttpStatusCode.Created)
            {
                record.Acknowledged = true;
                record.AcknowledgedAt = clock.Now;
                record.PaymentId = JsonDocument.Parse(text).RootElement.GetProperty("id").GetInt64();
                if (response.Headers.TryGetValues("Idempotent-Replayed", out var replayed) && replayed.Contains("true"))
                {
                    record.Replays++;
                }

                return true;
            }

            if (response.StatusCode == HttpStatusCode.Conflict && response.Headers.Location is { } paid)
            {
                // "Order already paid", pointing at the payment that paid it.
                record.Acknowledged = true;
                record.AcknowledgedAt = clock.Now;
                record.PaymentId = long.Parse(paid.OriginalString[(paid.OriginalString.LastIndexOf('/') + 1)..], CultureInfo.InvariantCulture);
                return true;
            }

            if (response.StatusCode == HttpStatusCode.Conflict)
            {
                // "Request in progress": the first attempt still holds the key; ask again later.
                return false;
            }

            if (status >= 500)
            {
                Failed(record);
                return false;
            }

            record.Refused = $"{status} {Title(text)}";
            return true;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            clock.Record(Endpoint, started, "timeout", error: true);
            Failed(record);
            return false;
        }
        catch (HttpRequestException ex)
        {
            clock.Record(Endpoint, started, ex.HttpRequestError.ToString(), error: true);
            Failed(record);
            return false;
        }
    }

    private void Failed(PaymentRecord record)
    {
        record.Failures++;
        record.FirstFailureAt ??= clock.Now;
    }

    private static string Title(string problem)
    {
        try
        {
            return JsonDocument.Parse(problem).RootElement.GetProperty("title").GetString() ?? "";
        }
        catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            return problem.Length > 80 ? problem[..80] : problem;
        }
    }
}
