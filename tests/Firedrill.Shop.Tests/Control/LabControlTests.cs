using System.Net;
using System.Text.Json;
using Firedrill.ServiceDefaults.Control;
using Firedrill.Shop.Tests.Support;

namespace Firedrill.Shop.Tests.Control;

public sealed class LabControlTests : IAsyncLifetime
{
    private readonly string _token = ServiceHost.NewToken();
    private TestDatabase _database = null!;

    public async Task InitializeAsync() => _database = await Engines.CreateDatabaseAsync();

    [Fact]
    public async Task Config_LabModeOff_IsAbsent()
    {
        await using var shop = new ShopInstance(_database.ConnectionString);
        using var client = shop.CreateClient();

        var response = await Send(client, HttpMethod.Get, _token);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("wrong-token-of-some-length")]
    public async Task Config_MissingOrWrongToken_Returns404(string? token)
    {
        await using var shop = LabShop();
        using var client = shop.CreateClient();

        Assert.Equal(HttpStatusCode.NotFound, (await Send(client, HttpMethod.Get, token)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await Send(client, HttpMethod.Put, token, """{"Catalog:MaxPageSize": "5"}""")).StatusCode);
    }

    [Fact]
    public async Task Config_NonLoopbackCaller_Returns404()
    {
        // The in-memory test server has no remote address: it is not a loopback caller.
        await using var shop = LabShop(realServer: false);
        using var client = shop.CreateClient();

        Assert.Equal(HttpStatusCode.NotFound, (await Send(client, HttpMethod.Get, _token)).StatusCode);
    }

    [Fact]
    public async Task Config_PutWithToken_ChangesOptionsWithoutRestart()
    {
        await using var shop = LabShop();
        using var client = shop.CreateClient();
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/products?pageSize=10")).StatusCode);

        var put = await Send(client, HttpMethod.Put, _token, """{"Catalog:MaxPageSize": 5}""");
        var get = await Send(client, HttpMethod.Get, _token);

        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        Assert.Equal("5", JsonDocument.Parse(await get.Content.ReadAsStringAsync()).RootElement.GetProperty("Catalog:MaxPageSize").GetString());
        await (await client.GetAsync("/products?pageSize=10")).AssertInvalidFieldAsync("pageSize");

        await Send(client, HttpMethod.Put, _token, """{"Catalog:MaxPageSize": null}""");
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/products?pageSize=10")).StatusCode);
    }

    [Fact]
    public async Task Config_PutPoolSize_RebuildsTheDataSource()
    {
        await using var shop = LabShop();
        using var client = shop.CreateClient();

        await Send(client, HttpMethod.Put, _token, """{"Db:MaxPoolSize": 3}""");

        var database = (Firedrill.Shop.Data.ShopDatabase)shop.Services.GetService(typeof(Firedrill.Shop.Data.ShopDatabase))!;
        Assert.Equal(3, new Npgsql.NpgsqlConnectionStringBuilder(database.ConnectionString).MaxPoolSize);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/products/1")).StatusCode);
    }

    [Theory]
    [InlineData("""{"Catalog:MaxPageSize": "-4"}""")]
    [InlineData("""{"Db:MaxPoolSize": "lots"}""")]
    [InlineData("""[1, 2]""")]
    [InlineData("""{"Catalog:MaxPageSize": {"nested": 1}}""")]
    [InlineData("""{"Catalog:MaxPageSize": """)]
    [InlineData("""{"Kafka:MaxPollInterval": "00:00:04", "Kafka:SessionTimeout": "00:00:05"}""")]
    [InlineData("""{"Kafka:HandlerParallelism": 0}""")]
    [InlineData("""{"Kafka:PaymentsKey": "Sku"}""")]
    [InlineData("""{"Kafka:ConsumersPerReplica": 9}""")]
    [InlineData("""{"Jobs:InventorySyncJitter": "00:00:06"}""")]
    [InlineData("""{"Jobs:LockAtLeast": "00:01:00"}""")]
    [InlineData("""{"Jobs:Lock": "Advisory"}""")]
    public async Task Config_InvalidOverride_Returns400AndKeepsThePreviousValues(string json)
    {
        await using var shop = LabShop();
        using var client = shop.CreateClient();
        await Send(client, HttpMethod.Put, _token, """{"Catalog:MaxPageSize": 7}""");

        var response = await Send(client, HttpMethod.Put, _token, json);

        await response.AssertProblemAsync(HttpStatusCode.BadRequest);
        var overrides = JsonDocument.Parse(await (await Send(client, HttpMethod.Get, _token)).Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("7", overrides.GetProperty("Catalog:MaxPageSize").GetString());
        Assert.False(overrides.TryGetProperty("Db:MaxPoolSize", out _));
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/products?pageSize=7")).StatusCode);
    }

    [Fact]
    public async Task Config_InvalidOverride_IsNeverApplied()
    {
        await using var shop = LabShop();
        using var client = shop.CreateClient();
        var monitor = (Microsoft.Extensions.Options.IOptionsMonitor<Firedrill.Shop.Features.Catalog.CatalogOptions>)shop.Services
            .GetService(typeof(Microsoft.Extensions.Options.IOptionsMonitor<Firedrill.Shop.Features.Catalog.CatalogOptions>))!;
        var reloads = 0;
        using var subscription = monitor.OnChange((_, _) => Interlocked.Increment(ref reloads));

        await (await Send(client, HttpMethod.Put, _token, """{"Catalog:MaxPageSize": "-4"}""")).AssertProblemAsync(HttpStatusCode.BadRequest);

        // Validated before it was applied: the configuration never reloaded, so no request could read it.
        Assert.Equal(0, reloads);
    }

    [Fact]
    public void Start_LabModeWithoutToken_FailsNamingTheSetting()
    {
        var error = Assert.ThrowsAny<Exception>(() =>
        {
            using var shop = new ShopInstance(_database.ConnectionString, new Dictionary<string, string?> { ["Lab:Enabled"] = "true" });
        });

        Assert.Contains("Lab:Token", error.ToString(), StringComparison.Ordinal);
    }

    private ShopInstance LabShop(bool realServer = true) =>
        new(_database.ConnectionString, new Dictionary<string, string?> { ["Lab:Enabled"] = "true", ["Lab:Token"] = _token }, realServer);

    private static Task<HttpResponseMessage> Send(HttpClient client, HttpMethod method, string? token, string? json = null) =>
        LabClient.SendAsync(client, method, token, json);

    public async Task DisposeAsync() => await _database.DisposeAsync();
}
