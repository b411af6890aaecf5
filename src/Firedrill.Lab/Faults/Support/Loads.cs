using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Firedrill.Lab.Load;

namespace Firedrill.Lab.Faults.Support;

/// <summary>The loads the faults share: payers arriving at a steady rate, and catalog readers.</summary>
internal static class Loads
{
    public const string Catalog = "catalog";

    /// <summary>
    /// Payers arrive at <paramref name="ratePerSecond"/> for <paramref name="duration"/> (or until
    /// the orders run out), each paying one order with <paramref name="payments"/>.
    /// </summary>
    public static async Task<IReadOnlyList<PaymentRecord>> PayAsync(PaymentClient payments, ConcurrentQueue<OrderToPay> orders, double ratePerSecond,
        TimeSpan maxDuration, CancellationToken stop, CancellationToken cancellationToken)
    {
        var records = new ConcurrentBag<PaymentRecord>();
        await OpenLoop.RunAsync(ratePerSecond, maxDuration, orders.Count, async _ =>
        {
            if (orders.TryDequeue(out var order))
            {
                records.Add(await payments.PayAsync(order, cancellationToken));
            }
        }, stop, cancellationToken);
        return [.. records];
    }

    /// <summary>Product reads through <paramref name="client"/> at a steady rate, never retried, each recorded on the clock.</summary>
    public static Task ReadCatalogAsync(HttpClient client, FaultClock clock, double ratePerSecond, TimeSpan maxDuration, TimeSpan timeout,
        CancellationToken stop, CancellationToken cancellationToken) =>
        OpenLoop.RunAsync(ratePerSecond, maxDuration, (int)Math.Ceiling(ratePerSecond * maxDuration.TotalSeconds), async i =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/products/{1 + (i * 7 % 1000)}");
            using var bound = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            bound.CancelAfter(timeout);
            var started = Stopwatch.GetTimestamp();
            try
            {
                using var response = await client.SendAsync(request, bound.Token);
                await response.Content.CopyToAsync(Stream.Null, bound.Token);
                var status = (int)response.StatusCode;
                clock.Record(Catalog, started, status.ToString(CultureInfo.InvariantCulture), error: status >= 500);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                clock.Record(Catalog, started, LoadOutcomes.Timeout, error: true);
            }
            catch (HttpRequestException ex)
            {
                clock.Record(Catalog, started, ex.HttpRequestError.ToString(), error: true);
            }
        }, stop, cancellationToken);
}
