using System.Net;
using Firedrill.Inventory.Tests.Support;

namespace Firedrill.Inventory.Tests;

public sealed class ObservabilityTests : IDisposable
{
    private readonly InventoryInstance _inventory = new();

    [Fact]
    public async Task Metrics_AfterTraffic_ExposeRequestsByOutcomeAndTheGauges()
    {
        await _inventory.Client.GetAsync("/inventory/SKU-000001");
        await _inventory.Client.GetAsync("/inventory/SKU-999999");

        var metrics = await _inventory.Client.GetStringAsync("/metrics");

        // Any count: the exporter listens by meter name, so it also sums the other instances this test run hosts in-process.
        Assert.Matches("""firedrill_inventory_requests_total\{[^}]*outcome="ok"[^}]*\} [1-9]""", metrics);
        Assert.Contains("firedrill_inventory_in_flight", metrics, StringComparison.Ordinal);
        Assert.Contains("http_server_request_duration_seconds", metrics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Metrics_AreNotCountedAsInventoryRequests()
    {
        using var meters = new InventoryMeters(_inventory);

        Assert.Equal(HttpStatusCode.OK, (await _inventory.Client.GetAsync("/health/live")).StatusCode);
        await _inventory.Client.GetStringAsync("/metrics");

        Assert.Equal(0, meters.Requests("ok"));
    }

    [Fact]
    public async Task OpenApi_DocumentsTheEndpoints()
    {
        var document = await _inventory.Client.GetStringAsync("/openapi/v1.json");

        Assert.Contains("/inventory/{sku}", document, StringComparison.Ordinal);
        Assert.Contains("/inventory/reservations/{orderRef}", document, StringComparison.Ordinal);
    }

    public void Dispose() => _inventory.Dispose();
}
