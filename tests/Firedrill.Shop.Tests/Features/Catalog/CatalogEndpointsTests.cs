using System.Net;
using System.Diagnostics.Metrics;
using Firedrill.Shop.Features.Catalog;
using Firedrill.Shop.Observability;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Firedrill.Shop.Tests.Support;

namespace Firedrill.Shop.Tests.Features.Catalog;

public sealed class CatalogEndpointsTests(ShopFixture fixture) : IClassFixture<ShopFixture>
{
    private readonly HttpClient _client = fixture.Client;

    [Fact]
    public async Task GetProduct_SeededId_ReturnsProduct()
    {
        var product = await (await _client.GetAsync("/products/7")).ReadAsync<Product>();

        Assert.Equal(7, product.Id);
        Assert.Equal("SKU-000007", product.Sku);
        Assert.True(product.Price > 0);
        Assert.True(product.Stock > 0);
    }

    [Theory]
    [InlineData("/products/999999")]
    [InlineData("/products/0")]
    [InlineData("/products/-5")]
    public async Task GetProduct_UnknownId_Returns404Problem(string path) =>
        await (await _client.GetAsync(path)).AssertProblemAsync(HttpStatusCode.NotFound);

    [Theory]
    [InlineData("/products/abc")]
    [InlineData("/products/99999999999999999999999")]
    public async Task GetProduct_NotAnInteger_Returns400Problem(string path) =>
        await (await _client.GetAsync(path)).AssertProblemAsync(HttpStatusCode.BadRequest);

    [Fact]
    public async Task Search_Query_ReturnsMatchingPage()
    {
        var page = await (await _client.GetAsync("/products?query=lamp&page=2&pageSize=5")).ReadAsync<ProductPage>();

        Assert.Equal(2, page.Page);
        Assert.Equal(5, page.Items.Count);
        Assert.All(page.Items, product => Assert.Contains("Lamp", product.Name, StringComparison.Ordinal));
        Assert.Equal(await fixture.Database.ScalarAsync<long>("SELECT count(*) FROM products WHERE name ILIKE '%lamp%'"), page.Total);
    }

    [Fact]
    public async Task Search_WildcardCharacters_AreMatchedLiterally()
    {
        var page = await (await _client.GetAsync("/products?query=%25")).ReadAsync<ProductPage>();

        Assert.Empty(page.Items);
        Assert.Equal(0, page.Total);
    }

    [Fact]
    public async Task Search_PastTheLastPage_ReturnsEmptyPageWithTotal()
    {
        var page = await (await _client.GetAsync("/products?page=1000&pageSize=100")).ReadAsync<ProductPage>();

        Assert.Empty(page.Items);
        Assert.True(page.Total >= 1000);
    }

    [Theory]
    [InlineData("/products?pageSize=101", "pageSize")]
    [InlineData("/products?pageSize=0", "pageSize")]
    [InlineData("/products?page=0", "page")]
    [InlineData("/products?page=-1", "page")]
    public async Task Search_OutOfRangePaging_Returns400NamingTheField(string path, string field) =>
        await (await _client.GetAsync(path)).AssertInvalidFieldAsync(field);

    [Fact]
    public async Task Search_OverlongQuery_Returns400() =>
        await (await _client.GetAsync("/products?query=" + new string('x', 101))).AssertInvalidFieldAsync("query");

    [Fact]
    public async Task Search_NonNumericPage_Returns400() =>
        await (await _client.GetAsync("/products?page=two")).AssertProblemAsync(HttpStatusCode.BadRequest);

    [Fact]
    public async Task UpdatePrice_ValidPrice_IsReturnedAndReadBack()
    {
        await _client.GetAsync("/products/11"); // cached before the write
        var updated = await (await _client.PutJsonAsync("/products/11/price", """{"price": 12.34}""")).ReadAsync<Product>();
        var read = await (await _client.GetAsync("/products/11")).ReadAsync<Product>();

        Assert.Equal(12.34m, updated.Price);
        Assert.Equal(12.34m, read.Price);
        Assert.Equal(12.34m, await fixture.Database.ScalarAsync<decimal>("SELECT price FROM products WHERE id = 11"));
    }

    [Theory]
    [InlineData("""{"price": 0}""")]
    [InlineData("""{"price": -3}""")]
    [InlineData("""{"price": 1000000.01}""")]
    [InlineData("""{"price": 1.234}""")]
    [InlineData("""{}""")]
    [InlineData("""{"price": null}""")]
    public async Task UpdatePrice_InvalidPrice_Returns400AndKeepsThePrice(string json)
    {
        var before = await fixture.Database.ScalarAsync<decimal>("SELECT price FROM products WHERE id = 12");

        await (await _client.PutJsonAsync("/products/12/price", json)).AssertInvalidFieldAsync("price");

        Assert.Equal(before, await fixture.Database.ScalarAsync<decimal>("SELECT price FROM products WHERE id = 12"));
    }

    [Theory]
    [InlineData("""{"price": "cheap"}""")]
    [InlineData("""{"price": 1e400}""")]
    [InlineData("""{"price": [1]}""")]
    public async Task UpdatePrice_WrongType_Returns400NamingTheField(string json) =>
        await (await _client.PutJsonAsync("/products/12/price", json)).AssertInvalidFieldAsync("price");

    [Theory]
    [InlineData("""{"price": 1""")]
    [InlineData("not json")]
    [InlineData("")]
    public async Task UpdatePrice_MalformedJson_Returns400(string json) =>
        await (await _client.PutJsonAsync("/products/12/price", json)).AssertProblemAsync(HttpStatusCode.BadRequest);

    [Fact]
    public async Task UpdatePrice_UnknownProduct_Returns404() =>
        await (await _client.PutJsonAsync("/products/424242/price", """{"price": 5}""")).AssertProblemAsync(HttpStatusCode.NotFound);

    [Fact]
    public async Task GetProduct_SecondRead_IsACacheHit()
    {
        // This host's own meter: a process-wide listener (or /metrics) would also see other test hosts' meters of the same name.
        using var lookups = new MetricCollector<long>(
            fixture.Shop.Services.GetRequiredService<IMeterFactory>(), ShopMetrics.MeterName, "firedrill.cache.requests");

        await _client.GetAsync("/products/21");
        await _client.GetAsync("/products/21");

        var results = lookups.GetMeasurementSnapshot().Select(m => (string?)m.Tags["result"]).ToList();
        Assert.Equal(["miss", "hit"], results);
    }
}
