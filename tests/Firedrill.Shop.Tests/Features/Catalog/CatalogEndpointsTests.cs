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
    public async Task ImportPrices_KnownAndUnknownIds_UpdatesTheKnownAndNamesTheUnknown()
    {
        await _client.GetAsync("/products/31"); // cached before the import
        var result = await (await _client.PostJsonAsync("/products/prices",
            """{"items": [{"productId": 31, "price": 7.5}, {"productId": 32, "price": 8.25}, {"productId": 424242, "price": 1}]}"""))
            .ReadAsync<PriceImportResult>();

        Assert.Equal([31L, 32L], result.Updated);
        Assert.Equal([424242L], result.Unknown);
        Assert.Equal(7.5m, (await (await _client.GetAsync("/products/31")).ReadAsync<Product>()).Price);
        Assert.Equal(8.25m, await fixture.Database.ScalarAsync<decimal>("SELECT price FROM products WHERE id = 32"));
    }

    [Theory]
    [InlineData("""{"items": []}""", "items")]
    [InlineData("""{}""", "items")]
    [InlineData("""{"items": [{"productId": 33, "price": 0}]}""", "items[0].price")]
    [InlineData("""{"items": [{"productId": 33, "price": 1.234}]}""", "items[0].price")]
    [InlineData("""{"items": [{"productId": 33}]}""", "items[0].price")]
    [InlineData("""{"items": [{"price": 3}]}""", "items[0].productId")]
    [InlineData("""{"items": [{"productId": 33, "price": 3}, null]}""", "items[1].productId")]
    [InlineData("""{"items": [{"productId": 33, "price": 3}, {"productId": 33, "price": 4}]}""", "items")]
    public async Task ImportPrices_Invalid_Returns400NamingTheFieldAndWritesNothing(string json, string field)
    {
        var before = await fixture.Database.ScalarAsync<decimal>("SELECT price FROM products WHERE id = 33");

        await (await _client.PostJsonAsync("/products/prices", json)).AssertInvalidFieldAsync(field);

        Assert.Equal(before, await fixture.Database.ScalarAsync<decimal>("SELECT price FROM products WHERE id = 33"));
    }

    [Fact]
    public async Task ImportPrices_TooMany_Returns400()
    {
        var items = string.Join(",", Enumerable.Range(1, PriceImporter.MaxItems + 1).Select(i => $$"""{"productId": {{i}}, "price": 1}"""));
        await (await _client.PostJsonAsync("/products/prices", $$"""{"items": [{{items}}]}""")).AssertInvalidFieldAsync("items");
    }

    [Theory]
    [InlineData("""{"items": 5}""")]
    [InlineData("not json")]
    public async Task ImportPrices_Malformed_Returns400(string json) =>
        await (await _client.PostJsonAsync("/products/prices", json)).AssertProblemAsync(HttpStatusCode.BadRequest);

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
