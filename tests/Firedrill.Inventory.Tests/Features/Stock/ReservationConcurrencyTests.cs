using System.Net;
using Firedrill.Inventory.Tests.Support;

namespace Firedrill.Inventory.Tests.Features.Stock;

public sealed class ReservationConcurrencyTests : IDisposable
{
    private const int Requests = 20;

    private readonly InventoryInstance _inventory = new(new Dictionary<string, string?>
    {
        ["Inventory:Skus"] = "3",
        ["Inventory:InitialStock"] = "10",
    });

    [Fact]
    public async Task Reserve_ConcurrentOrdersForTheLastUnits_NeverOversellNorReservePartially()
    {
        // Each order takes one unit of two SKUs; only ten can have both.
        var responses = await Task.WhenAll(Enumerable.Range(0, Requests).Select(i => _inventory.Client.PostJsonAsync(
            "/inventory/reservations",
            $$"""{"orderRef": "race-{{i}}", "lines": [{"sku": "SKU-000001", "quantity": 1}, {"sku": "SKU-000002", "quantity": 1}]}""")));

        Assert.Equal(10, responses.Count(response => response.StatusCode == HttpStatusCode.Created));
        Assert.Equal(10, responses.Count(response => response.StatusCode == HttpStatusCode.Conflict));
        Assert.Equal(0, await _inventory.Client.AvailableAsync("SKU-000001"));
        Assert.Equal(0, await _inventory.Client.AvailableAsync("SKU-000002"));
    }

    [Fact]
    public async Task Reserve_ConcurrentRetriesOfOneOrder_TakeStockOnce()
    {
        var responses = await Task.WhenAll(Enumerable.Range(0, Requests).Select(_ => _inventory.Client.PostJsonAsync(
            "/inventory/reservations", """{"orderRef": "retried", "lines": [{"sku": "SKU-000003", "quantity": 3}]}""")));

        Assert.All(responses, response => Assert.Equal(HttpStatusCode.Created, response.StatusCode));
        Assert.Equal(7, await _inventory.Client.AvailableAsync("SKU-000003"));
    }

    public void Dispose() => _inventory.Dispose();
}
