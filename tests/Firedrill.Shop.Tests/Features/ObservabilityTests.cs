using System.Net;
using Firedrill.Shop.Tests.Support;

namespace Firedrill.Shop.Tests.Features;

public sealed class ObservabilityTests(ShopFixture fixture) : IClassFixture<ShopFixture>
{
    [Fact]
    public async Task Metrics_AfterTraffic_ExposeFrameworkAndShopMeters()
    {
        await fixture.Client.GetAsync("/products/1");
        await fixture.Client.GetAsync("/products/1");

        var metrics = await fixture.Client.GetStringAsync("/metrics");

        Assert.Contains("http_server_request_duration_seconds", metrics, StringComparison.Ordinal);
        Assert.Contains("firedrill_cache_requests_total", metrics, StringComparison.Ordinal);
        Assert.Contains("db_client_connection_count", metrics, StringComparison.Ordinal);
        Assert.Contains("firedrill_db_connection_wait_time_seconds_bucket", metrics, StringComparison.Ordinal);
        Assert.Contains("dotnet_gc_", metrics, StringComparison.Ordinal);
    }

    /// <summary>What memory-growth and thread-pool-starvation read in Prometheus: the runtime's own System.Runtime meter.</summary>
    [Theory]
    [InlineData("dotnet_gc_last_collection_heap_size_bytes{")]
    [InlineData("dotnet_gc_collections_total{")]
    [InlineData("dotnet_process_memory_working_set_bytes{")]
    [InlineData("dotnet_thread_pool_thread_count_total{")]
    [InlineData("dotnet_thread_pool_queue_length_total{")]
    [InlineData("dotnet_monitor_lock_contentions_total{")]
    [InlineData("dotnet_process_cpu_time_seconds_total{")]
    [InlineData("dotnet_process_cpu_count{")]
    public async Task Metrics_ExposeTheRuntimeMeter(string series)
    {
        // A collection first: the heap-after-GC gauges describe the last one.
        GC.Collect();
        await fixture.Client.GetAsync("/products/1");

        var metrics = await fixture.Client.GetStringAsync("/metrics");

        Assert.Contains(series, metrics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Problem_CarriesTheW3CTraceIdOfTheRequest()
    {
        var traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
        var request = new HttpRequestMessage(HttpMethod.Get, "/products/0");
        request.Headers.Add("traceparent", $"00-{traceId}-00f067aa0ba902b7-01");

        // A client of its own that sends the header as given: the test process's HttpClient
        // instrumentation would otherwise replace it with a trace of its own.
        using var client = new HttpClient(new SocketsHttpHandler { ActivityHeadersPropagator = null }) { BaseAddress = fixture.Client.BaseAddress };
        var problem = await (await client.SendAsync(request)).AssertProblemAsync(HttpStatusCode.NotFound);

        Assert.Equal(traceId, problem.GetProperty("traceId").GetString());
    }

    [Fact]
    public async Task OpenApi_DocumentsTheEndpoints()
    {
        var document = await fixture.Client.GetStringAsync("/openapi/v1.json");

        Assert.Contains("/payments", document, StringComparison.Ordinal);
        Assert.Contains("/products/{id}", document, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, (await fixture.Client.GetAsync("/scalar/v1")).StatusCode);
    }
}
