using System.Net;
using Firedrill.Shop.Tests.Support;

namespace Firedrill.Shop.Tests.Features;

public sealed class ObservabilityTests(ShopFixture fixture) : IClassFixture<ShopFixture>
{
    [Fact]
    public async Task Metrics_AfterTraffic_ExposeFrameworkAndShopMeters()
    {
        // A host of its own, so the series it reads come from this test's traffic alone. (Another
        // host's stop once ended the fixture host's per-host streams: see the next test.)
        await using var shop = new ShopInstance(fixture.Database.ConnectionString);
        using var client = shop.CreateClient();
        var statuses = new List<int>
        {
            (int)(await client.GetAsync("/products/1")).StatusCode,
            (int)(await client.GetAsync("/products/1")).StatusCode,
        };

        // Kestrel records a request's duration after its response has gone out, and the fixture's
        // other tests may already have produced some series, so on a busy machine a scrape right
        // after the answer can precede what this traffic records: read until all are there (bounded).
        string[] expected =
        [
            "http_server_request_duration_seconds",
            "firedrill_cache_requests_total",
            "db_client_connection_count",
            "firedrill_db_connection_wait_time_seconds_bucket",
            "dotnet_gc_",
        ];
        var metrics = await client.GetStringAsync("/metrics");
        for (var attempt = 0; attempt < 50 && !expected.All(series => metrics.Contains(series, StringComparison.Ordinal)); attempt++)
        {
            await Task.Delay(100);
            statuses.Add((int)(await client.GetAsync("/products/1")).StatusCode);
            metrics = await client.GetStringAsync("/metrics");
        }

        Assert.True(expected.All(series => metrics.Contains(series, StringComparison.Ordinal)),
            $"missing: {string.Join(", ", expected.Where(series => !metrics.Contains(series, StringComparison.Ordinal)))}; GET /products/1 answered {string.Join(" ", statuses.Distinct())}");
    }

    [Fact]
    public async Task Metrics_AnotherHostInTheProcess_NeitherMixesInNorStopsThisHostsMeters()
    {
        // Meters are process-wide: a second host in the same process (as in these tests) creates
        // instruments of the same names from its own IMeterFactory. This host's /metrics must show
        // only its own, before and after the other host stops.
        await using var shop = new ShopInstance(fixture.Database.ConnectionString);
        using var client = shop.CreateClient();
        await client.GetAsync("/products/1");
        await using (var warming = new ShopInstance(fixture.Database.ConnectionString, new Dictionary<string, string?>
        {
            ["WarmUp:Enabled"] = "true",
            ["WarmUp:ReadyBeforeWarmUp"] = "true",
            ["WarmUp:Requests"] = "100000",
            ["WarmUp:Concurrency"] = "1",
        }))
        {
            using var other = warming.CreateClient();
            await other.GetAsync("/health/ready");
            Assert.Matches(@"firedrill_warmup_complete(\{[^}]*\})? 0", await other.GetStringAsync("/metrics"));

            var during = await client.GetStringAsync("/metrics");
            Assert.Matches(@"firedrill_warmup_complete(\{[^}]*\})? 1", during);
            Assert.DoesNotMatch(@"firedrill_warmup_complete(\{[^}]*\})? 0", during);
        }

        // OpenTelemetry exports a stream whose instrument was disposed once more, then forgets it: the second scrape tells.
        await client.GetStringAsync("/metrics");
        await client.GetAsync("/products/1");
        var after = await client.GetStringAsync("/metrics");
        Assert.Matches(@"firedrill_warmup_complete(\{[^}]*\})? 1", after);
        Assert.Contains("http_server_request_duration_seconds", after, StringComparison.Ordinal);
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
