using System.Net.Http.Json;

namespace Firedrill.Lab.Scenarios.Incidents;

/// <summary>
/// Shoppers who check out (an order, then its payment) all through a phase, besides the sampled
/// payments. Each payment puts one message on Kafka, so the ledger consumer works the whole phase
/// long: the consumer's side of the story (messages that continued a trace, or started one) is a
/// rate at any moment of the phase — the sampled payments alone come in one burst at its start.
/// </summary>
internal sealed partial class UncorrelatedLogs
{
    private const double CheckoutRate = 2;

    /// <summary>Starts a checkout every 1/<see cref="CheckoutRate"/> s until <paramref name="stop"/>; returns when every started one has ended.</summary>
    private static async Task CheckoutsAsync(HttpClient client, int phaseIndex, TimeProvider time, CancellationToken stop)
    {
        var gap = TimeSpan.FromSeconds(1 / CheckoutRate);
        var checkouts = new List<Task>();
        try
        {
            for (var i = 0; !stop.IsCancellationRequested; i++)
            {
                checkouts.Add(CheckoutOnceAsync(client, phaseIndex * 10_000 + i, stop));
                await Task.Delay(gap, time, stop);
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // The phase is over.
        }

        await Task.WhenAll(checkouts);
    }

    /// <summary>One shopper's order and payment; a failure or the phase's end only means one message fewer.</summary>
    private static async Task CheckoutOnceAsync(HttpClient client, int sequence, CancellationToken stop)
    {
        try
        {
            using var created = await client.PostAsJsonAsync("/api/orders",
                new { customerId = 1 + sequence % 100, lines = new[] { new { productId = 1 + sequence * 7919 % 1000, quantity = 1 } } }, stop);
            if (!created.IsSuccessStatusCode || await created.Content.ReadFromJsonAsync<Created>(stop) is not { } order)
            {
                return;
            }

            using var payment = new HttpRequestMessage(HttpMethod.Post, "/api/payments")
            {
                Content = JsonContent.Create(new { orderId = order.Id, amount = order.Total, currency = "EUR" }),
            };
            payment.Headers.Add("Idempotency-Key", $"checkout-{order.Id}");
            using var paid = await client.SendAsync(payment, stop);
        }
        catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException)
        {
            // Not a sampled payment: the verdict does not read it.
        }
    }
}
