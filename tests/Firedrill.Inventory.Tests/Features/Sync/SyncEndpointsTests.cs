using System.Net;
using System.Text;
using System.Text.Json;
using Firedrill.Inventory.Observability;
using Firedrill.Inventory.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;

namespace Firedrill.Inventory.Tests.Features.Sync;

/// <summary>The reconciliations the shop's scheduled job sends, counted per window: the duplicate-job incident's harm, seen from outside the shop.</summary>
public sealed class SyncEndpointsTests
{
    [Fact]
    public async Task Post_SameWindowFromThreeReplicas_CountsThreeCallsAndTwoRepeats()
    {
        using var inventory = new InventoryInstance();
        var meters = inventory.Services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>();
        using var requests = new MetricCollector<long>(meters, InventoryMetrics.MeterName, "firedrill.inventory.sync.requests");
        using var repeats = new MetricCollector<long>(meters, InventoryMetrics.MeterName, "firedrill.inventory.sync.repeats");
        const string window = "2026-12-01T10:00:02Z";

        foreach (var replica in new[] { "shop-1", "shop-2", "shop-3" })
        {
            using var response = await PostAsync(inventory.Client, $$"""{"window": "{{window}}", "replica": "{{replica}}", "checked": 20, "differ": 0}""");
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        }

        using var other = await PostAsync(inventory.Client, """{"window": "2026-12-01T10:00:04Z", "replica": "shop-2", "checked": 20, "differ": 1}""");
        Assert.Equal(HttpStatusCode.Accepted, other.StatusCode);

        using var windows = JsonDocument.Parse(await inventory.Client.GetStringAsync("/inventory/sync"));
        var listed = windows.RootElement.EnumerateArray().ToList();
        Assert.Equal(2, listed.Count);
        Assert.Equal(3, listed[0].GetProperty("calls").GetInt32());
        Assert.Equal(["shop-1", "shop-2", "shop-3"], listed[0].GetProperty("replicas").EnumerateArray().Select(r => r.GetString()));
        Assert.Equal(1, listed[1].GetProperty("calls").GetInt32());
        Assert.Equal(4, requests.GetMeasurementSnapshot().Sum(m => m.Value));
        Assert.Equal(2, repeats.GetMeasurementSnapshot().Sum(m => m.Value));
    }

    [Theory]
    [InlineData("""{"replica": "shop-1"}""", "window")]
    [InlineData("""{"window": "2026-12-01T10:00:02Z"}""", "replica")]
    [InlineData("""{"window": "2026-12-01T10:00:02Z", "replica": "shop-1", "checked": -1}""", "checked")]
    public async Task Post_MissingOrInvalidField_Returns400NamingIt(string body, string field)
    {
        using var inventory = new InventoryInstance();

        using var response = await PostAsync(inventory.Client, body);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.True(problem.RootElement.GetProperty("errors").TryGetProperty(field, out _), problem.RootElement.ToString());
    }

    [Fact]
    public async Task Post_NotJson_Returns400Problem()
    {
        using var inventory = new InventoryInstance();

        using var response = await PostAsync(inventory.Client, "not json");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    private static Task<HttpResponseMessage> PostAsync(HttpClient client, string json) =>
        client.PostAsync("/inventory/sync", new StringContent(json, Encoding.UTF8, "application/json"));
}
