using System.Net;
using System.Text;
using Firedrill.Shop.Features.Catalog;
using Firedrill.Shop.Tests.Support;

namespace Firedrill.Shop.Tests.Features.Catalog;

public sealed class PriceImportTests(ShopFixture fixture) : IClassFixture<ShopFixture>
{
    private readonly HttpClient _client = fixture.Client;

    [Fact]
    public async Task Import_ValidPriceList_UpdatesChangedPricesOnly()
    {
        var before = await (await _client.GetAsync("/products/21")).ReadAsync<Product>(); // cached now
        var csv = $"sku,name,price\nSKU-000021,\"Kettle, large\",{before.Price + 1m}\nSKU-000022,Lamp,{await PriceAsync(22)}\n";

        var result = await (await ImportAsync(csv)).ReadAsync<PriceSheetImportResult>();

        Assert.Equal(new PriceSheetImportResult(2, 1, 1), result);
        Assert.Equal(before.Price + 1m, await PriceAsync(21));
        // The cached product was evicted: the catalog serves the new price at once.
        Assert.Equal(before.Price + 1m, (await (await _client.GetAsync("/products/21")).ReadAsync<Product>()).Price);
    }

    [Fact]
    public async Task Import_InvalidLines_Returns400NamingEachLineAndChangesNothing()
    {
        var before = await PriceAsync(31);
        var csv = "sku,price\nSKU-000031,99.99\nSKU-31,5\nSKU-000032,-1\nSKU-000033,1.234\nSKU-000031,7\nSKU-000034\n";

        var problem = await (await ImportAsync(csv)).AssertProblemAsync(HttpStatusCode.BadRequest);

        var errors = problem.GetProperty("errors");
        foreach (var line in new[] { "line 3", "line 4", "line 5", "line 6", "line 7" })
        {
            Assert.True(errors.TryGetProperty(line, out _), $"{line} is not named: {problem}");
        }

        Assert.False(errors.TryGetProperty("line 2", out _));
        Assert.Equal(before, await PriceAsync(31));
    }

    [Fact]
    public async Task Import_UnknownSku_Returns400AndChangesNothing()
    {
        var before = await PriceAsync(41);

        var problem = await (await ImportAsync($"sku,price\nSKU-000041,{before + 3}\nSKU-999999,5\n")).AssertProblemAsync(HttpStatusCode.BadRequest);

        Assert.True(problem.GetProperty("errors").TryGetProperty("line 3", out _), problem.ToString());
        Assert.Equal(before, await PriceAsync(41));
    }

    [Theory]
    [InlineData("price\n5\n")]
    [InlineData("sku,price\n")]
    [InlineData("\"sku,price\n")]
    public async Task Import_NoUsableHeaderOrRows_Returns400(string csv) =>
        await (await ImportAsync(csv)).AssertProblemAsync(HttpStatusCode.BadRequest);

    [Fact]
    public async Task Import_NotCsv_Returns415() =>
        await (await _client.PostJsonAsync("/products/prices/import", """{"sku": "SKU-000001", "price": 5}""")).AssertProblemAsync(HttpStatusCode.UnsupportedMediaType);

    [Fact]
    public async Task Import_DeclaredBodyOverTheLimit_Returns413()
    {
        var csv = "sku,price\n" + string.Concat(Enumerable.Repeat("SKU-000001,5\n", 100_000));

        await (await ImportAsync(csv)).AssertProblemAsync(HttpStatusCode.RequestEntityTooLarge);
    }

    [Fact]
    public async Task Import_ChunkedBodyOverTheLimit_Returns413()
    {
        var bytes = Encoding.UTF8.GetBytes("sku,price\n" + string.Concat(Enumerable.Repeat("SKU-000001,5\n", 100_000)));
        using var content = new StreamContent(new MemoryStream(bytes));
        content.Headers.ContentType = new("text/csv");
        using var request = new HttpRequestMessage(HttpMethod.Post, "/products/prices/import") { Content = content };
        request.Headers.TransferEncodingChunked = true;

        await (await _client.SendAsync(request)).AssertProblemAsync(HttpStatusCode.RequestEntityTooLarge);
    }

    private Task<HttpResponseMessage> ImportAsync(string csv) =>
        _client.PostAsync("/products/prices/import", new StringContent(csv, Encoding.UTF8, PriceImportEndpoint.ContentType));

    private Task<decimal> PriceAsync(long id) => fixture.Database.ScalarAsync<decimal>($"SELECT price FROM products WHERE id = {id}");
}
