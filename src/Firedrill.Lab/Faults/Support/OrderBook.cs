using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using Firedrill.Lab.Fleet;
using Firedrill.Lab.Load;

namespace Firedrill.Lab.Faults.Support;

/// <summary>An order placed for a fault's payments to pay: its id and total (in EUR).</summary>
internal sealed record OrderToPay(long Id, decimal Total);

/// <summary>Places the orders a fault's payers will pay, before the load: preparation, not what is measured.</summary>
internal static class OrderBook
{
    public static async Task<ConcurrentQueue<OrderToPay>> PlaceAsync(ServiceProcess shop, int count, CancellationToken cancellationToken)
    {
        // Straight to a replica: the gateway is what the faults load, not the preparation.
        using var client = LoadHttpClient.Create(shop.Address);
        client.Timeout = TimeSpan.FromSeconds(15);
        var orders = new ConcurrentBag<OrderToPay>();
        await Parallel.ForAsync(0, count, new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = cancellationToken }, async (i, token) =>
        {
            var body = $$"""{"customerId": {{1 + i % 100}}, "lines": [{"productId": {{1 + i % 1000}}, "quantity": 1}]}""";
            using var response = await client.PostAsync("/orders", new StringContent(body, Encoding.UTF8, "application/json"), token);
            response.EnsureSuccessStatusCode();
            using var json = await JsonDocument.ParseAsync(await response.Content.ReadAsStreamAsync(token), cancellationToken: token);
            orders.Add(new OrderToPay(json.RootElement.GetProperty("id").GetInt64(), json.RootElement.GetProperty("total").GetDecimal()));
        });

        return new ConcurrentQueue<OrderToPay>(orders.OrderBy(order => order.Id));
    }
}
