using System.Globalization;
using System.Net;
using Firedrill.Shop.Features.Orders;
using Firedrill.Shop.Tests.Features.Payments;
using Firedrill.Shop.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Console;
using Microsoft.Extensions.Options;

namespace Firedrill.Shop.Tests.Features;

/// <summary>How the shop's work is joined to the request that caused it: the trace id returned, propagation on HTTP and Kafka, the log format.</summary>
public sealed class TelemetryTests : IAsyncLifetime
{
    private const string TraceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    private readonly string _token = ServiceHost.NewToken();
    private TestDatabase _database = null!;
    private InventoryProcess _inventory = null!;

    public async Task InitializeAsync()
    {
        _database = await Engines.CreateDatabaseAsync();
        _inventory = await InventoryProcess.StartAsync();
    }

    [Fact]
    public async Task AnyResponse_CarriesTheRequestsTraceIdInTraceresponse()
    {
        await using var shop = Shop();
        using var client = UninstrumentedClient(shop);
        using var request = new HttpRequestMessage(HttpMethod.Get, "/products/1");
        request.Headers.Add("traceparent", $"00-{TraceId}-00f067aa0ba902b7-01");

        using var response = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Matches($"^00-{TraceId}-[0-9a-f]{{16}}-0[01]$", Assert.Single(response.Headers.GetValues("traceresponse")));
    }

    [Fact]
    public async Task InventoryCall_PropagationOff_ArrivesWithoutATraceParent()
    {
        await using var shop = Shop();
        using var client = shop.CreateClient();
        var (remote, none) = (await JoinsAsync("remote"), await JoinsAsync("none"));
        await (await client.GetAsync("/products/3/availability")).ReadJsonAsync();
        Assert.Equal((remote + 1, none), (await JoinsAsync("remote"), await JoinsAsync("none")));

        await LabClient.SetAsync(client, _token, """{"Telemetry:PropagateTraceContext": false}""");
        await (await client.GetAsync("/products/4/availability")).ReadJsonAsync();

        Assert.Equal((remote + 1, none + 1), (await JoinsAsync("remote"), await JoinsAsync("none")));
    }

    [Fact]
    public async Task Payment_KafkaPropagationOff_OutboxKeepsNoTraceParent()
    {
        await using var shop = Shop();
        using var client = shop.CreateClient();
        var first = await PayNewOrderAsync(client);
        await LabClient.SetAsync(client, _token, """{"Kafka:PropagateTraceContext": false}""");
        var second = await PayNewOrderAsync(client);

        Assert.Matches("^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$", await TraceParentAsync(first));
        Assert.Null(await TraceParentAsync(second));
    }

    [Fact]
    public async Task LogFormat_Text_SwitchesTheConsoleToFreeTextAndBack()
    {
        await using var shop = Shop();
        using var client = shop.CreateClient();
        var console = shop.Services.GetRequiredService<IOptionsMonitor<ConsoleLoggerOptions>>();
        Assert.Equal(ConsoleFormatterNames.Json, console.CurrentValue.FormatterName);

        await LabClient.SetAsync(client, _token, """{"Telemetry:LogFormat": "Text"}""");
        Assert.Equal(ConsoleFormatterNames.Simple, console.CurrentValue.FormatterName);

        await LabClient.SetAsync(client, _token, """{"Telemetry:LogFormat": "Json"}""");
        Assert.Equal(ConsoleFormatterNames.Json, console.CurrentValue.FormatterName);
    }

    [Fact]
    public async Task LogFormat_Unknown_IsRefused()
    {
        await using var shop = Shop();
        using var client = shop.CreateClient();

        var response = await LabClient.SendAsync(client, HttpMethod.Put, _token, """{"Telemetry:LogFormat": "Xml"}""");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }

    private static async Task<long> PayNewOrderAsync(HttpClient client)
    {
        var order = await (await client.PostJsonAsync("/orders", """{"customerId": 1, "lines": [{"productId": 1, "quantity": 1}]}""")).ReadAsync<Order>(HttpStatusCode.Created);
        await (await PaymentsEndpointsTests.Pay(client, PaymentsEndpointsTests.NewKey(),
            string.Create(CultureInfo.InvariantCulture, $$"""{"orderId": {{order.Id}}, "amount": {{order.Total}}, "currency": "EUR"}"""))).ReadJsonAsync(HttpStatusCode.Created);
        return order.Id;
    }

    private Task<string?> TraceParentAsync(long orderId) =>
        _database.ScalarAsync<string?>($"SELECT traceparent FROM outbox WHERE message_key = '{orderId}'");

    /// <summary>Requests inventory served, by whether they continued a caller's trace, from its own /metrics.</summary>
    private async Task<double> JoinsAsync(string parent)
    {
        var metrics = await _inventory.Client.GetStringAsync("/metrics");
        return metrics.Split('\n')
            .Where(line => line.StartsWith("firedrill_trace_context_joins_total{", StringComparison.Ordinal)
                && line.Contains("kind=\"request\"", StringComparison.Ordinal) && line.Contains($"parent=\"{parent}\"", StringComparison.Ordinal))
            .Sum(line => double.Parse(line[(line.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture));
    }

    /// <summary>Sends headers as given: the test process's own HttpClient instrumentation would start a trace of its own.</summary>
    private static HttpClient UninstrumentedClient(ShopInstance shop) =>
        new(new SocketsHttpHandler { ActivityHeadersPropagator = null }) { BaseAddress = shop.CreateClient().BaseAddress };

    private ShopInstance Shop() => new(_database.ConnectionString, new Dictionary<string, string?>
    {
        ["Lab:Enabled"] = "true",
        ["Lab:Token"] = _token,
        ["InventoryClient:BaseAddress"] = _inventory.Address.ToString(),
        ["InventoryClient:MaxRetries"] = "0",
    });

    public async Task DisposeAsync()
    {
        await _inventory.DisposeAsync();
        await _database.DisposeAsync();
    }
}
