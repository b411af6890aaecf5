using System.Net;
using Firedrill.Shop.Features.Catalog;
using Firedrill.Shop.Features.Orders;
using Firedrill.Shop.Tests.Support;

namespace Firedrill.Shop.Tests.Features.Orders;

public sealed class OrdersEndpointsTests(ShopFixture fixture) : IClassFixture<ShopFixture>
{
    private readonly HttpClient _client = fixture.Client;

    [Fact]
    public async Task PlaceOrder_ValidLines_Returns201WithLocationAndTakesStock()
    {
        var stockBefore = await fixture.Database.ScalarAsync<int>("SELECT stock FROM products WHERE id = 5");

        var response = await _client.PostJsonAsync("/orders", """{"customerId": 4, "lines": [{"productId": 5, "quantity": 3}, {"productId": 6, "quantity": 1}]}""");
        var order = await response.ReadAsync<Order>(HttpStatusCode.Created);

        Assert.Equal($"/orders/{order.Id}", response.Headers.Location?.OriginalString);
        Assert.Equal(4, order.CustomerId);
        Assert.Equal("placed", order.Status);
        Assert.Equal(2, order.Lines.Count);
        var prices = await Task.WhenAll(
            fixture.Database.ScalarAsync<decimal>("SELECT price FROM products WHERE id = 5"),
            fixture.Database.ScalarAsync<decimal>("SELECT price FROM products WHERE id = 6"));
        Assert.Equal(prices[0] * 3 + prices[1], order.Total);
        Assert.Equal(stockBefore - 3, await fixture.Database.ScalarAsync<int>("SELECT stock FROM products WHERE id = 5"));
    }

    [Fact]
    public async Task GetOrder_PlacedOrder_ReturnsItWithLines()
    {
        var placed = await (await _client.PostJsonAsync("/orders", """{"customerId": 2, "lines": [{"productId": 9, "quantity": 2}]}""")).ReadAsync<Order>(HttpStatusCode.Created);

        var read = await (await _client.GetAsync($"/orders/{placed.Id}")).ReadAsync<Order>();

        Assert.Equal(placed.Id, read.Id);
        Assert.Equal(placed.Total, read.Total);
        Assert.Equal(new OrderLine(9, 2, placed.Lines[0].UnitPrice), Assert.Single(read.Lines));
    }

    [Fact]
    public async Task PlaceOrder_TakesStock_CachedProductShowsNewStock()
    {
        var before = await (await _client.GetAsync("/products/40")).ReadAsync<Product>();
        await (await _client.PostJsonAsync("/orders", """{"customerId": 1, "lines": [{"productId": 40, "quantity": 7}]}""")).ReadAsync<Order>(HttpStatusCode.Created);

        var after = await (await _client.GetAsync("/products/40")).ReadAsync<Product>();

        Assert.Equal(before.Stock - 7, after.Stock);
    }

    [Fact]
    public async Task ListByCustomer_Paged_ReturnsNewestFirst()
    {
        for (var i = 1; i <= 3; i++)
        {
            await (await _client.PostJsonAsync("/orders", $$"""{"customerId": 77, "lines": [{"productId": {{i}}, "quantity": 1}]}""")).ReadAsync<Order>(HttpStatusCode.Created);
        }

        var first = await (await _client.GetAsync("/customers/77/orders?page=1&pageSize=2")).ReadAsync<OrderPage>();
        var second = await (await _client.GetAsync("/customers/77/orders?page=2&pageSize=2")).ReadAsync<OrderPage>();

        Assert.Equal([3L, 2L], first.Items.Select(order => order.Lines[0].ProductId));
        Assert.Equal(1, Assert.Single(second.Items).Lines[0].ProductId);
    }

    [Fact]
    public async Task ListByCustomer_NoOrders_ReturnsEmptyPage()
    {
        var page = await (await _client.GetAsync("/customers/99/orders")).ReadAsync<OrderPage>();

        Assert.Empty(page.Items);
    }

    [Theory]
    [InlineData("/customers/5000/orders")]
    [InlineData("/orders/987654")]
    [InlineData("/orders/0")]
    public async Task Get_UnknownId_Returns404(string path) =>
        await (await _client.GetAsync(path)).AssertProblemAsync(HttpStatusCode.NotFound);

    [Theory]
    [InlineData("/customers/1/orders?pageSize=101", "pageSize")]
    [InlineData("/customers/1/orders?page=0", "page")]
    public async Task ListByCustomer_OutOfRangePaging_Returns400(string path, string field) =>
        await (await _client.GetAsync(path)).AssertInvalidFieldAsync(field);

    [Theory]
    [InlineData("""{"lines": [{"productId": 1, "quantity": 1}]}""", "customerId")]
    [InlineData("""{"customerId": -1, "lines": [{"productId": 1, "quantity": 1}]}""", "customerId")]
    [InlineData("""{"customerId": 1}""", "lines")]
    [InlineData("""{"customerId": 1, "lines": []}""", "lines")]
    [InlineData("""{"customerId": 1, "lines": [{"productId": 1, "quantity": 0}]}""", "lines[0].quantity")]
    [InlineData("""{"customerId": 1, "lines": [{"productId": 1, "quantity": 1001}]}""", "lines[0].quantity")]
    [InlineData("""{"customerId": 1, "lines": [{"quantity": 1}]}""", "lines[0].productId")]
    [InlineData("""{"customerId": 1, "lines": [{"productId": 1, "quantity": 1}, {"productId": 1, "quantity": 2}]}""", "lines[1].productId")]
    [InlineData("""{"customerId": 1, "lines": [null]}""", "lines[0]")]
    [InlineData("""{"customerId": 1, "lines": [{"productId": 1, "quantity": 99999999999}]}""", "lines[0].quantity")]
    [InlineData("""{"customerId": "one", "lines": [{"productId": 1, "quantity": 1}]}""", "customerId")]
    [InlineData("""{"customerId": 1, "lines": [{"productId": 1, "quantity": 1}], "isAdmin": true}""", "isAdmin")]
    [InlineData("""{"customerId": 1, "lines": [{"productId": 1, "quantity": 1, "unitPrice": 0.01}]}""", "lines[0].unitPrice")]
    [InlineData("""{"customerId": 1, "customerId": 2, "lines": [{"productId": 1, "quantity": 1}]}""", "customerId")]
    public async Task PlaceOrder_InvalidBody_Returns400NamingTheFieldAndWritesNothing(string json, string field)
    {
        var orders = await fixture.Database.ScalarAsync<long>("SELECT count(*) FROM orders");

        await (await _client.PostJsonAsync("/orders", json)).AssertInvalidFieldAsync(field);

        Assert.Equal(orders, await fixture.Database.ScalarAsync<long>("SELECT count(*) FROM orders"));
    }

    [Fact]
    public async Task PlaceOrder_TooManyLines_Returns400()
    {
        var lines = string.Join(",", Enumerable.Range(1, OrdersEndpoints.MaxLines + 1).Select(i => $$"""{"productId": {{i}}, "quantity": 1}"""));

        await (await _client.PostJsonAsync("/orders", $$"""{"customerId": 1, "lines": [{{lines}}]}""")).AssertInvalidFieldAsync("lines");
    }

    [Fact]
    public async Task PlaceOrder_MalformedJson_Returns400() =>
        await (await _client.PostJsonAsync("/orders", """{"customerId": 1, "lines": [""")).AssertProblemAsync(HttpStatusCode.BadRequest);

    [Fact]
    public async Task PlaceOrder_UnknownCustomer_Returns404() =>
        await (await _client.PostJsonAsync("/orders", """{"customerId": 100000, "lines": [{"productId": 1, "quantity": 1}]}""")).AssertProblemAsync(HttpStatusCode.NotFound);

    [Fact]
    public async Task PlaceOrder_UnknownProduct_Returns404AndTakesNoStock()
    {
        var stock = await fixture.Database.ScalarAsync<int>("SELECT stock FROM products WHERE id = 30");

        await (await _client.PostJsonAsync("/orders", """{"customerId": 1, "lines": [{"productId": 30, "quantity": 1}, {"productId": 555555, "quantity": 1}]}"""))
            .AssertProblemAsync(HttpStatusCode.NotFound);

        Assert.Equal(stock, await fixture.Database.ScalarAsync<int>("SELECT stock FROM products WHERE id = 30"));
    }

    [Fact]
    public async Task PlaceOrder_InsufficientStock_Returns409AndTakesNoStock()
    {
        await fixture.Database.ExecuteAsync("UPDATE products SET stock = 2 WHERE id = 31");

        await (await _client.PostJsonAsync("/orders", """{"customerId": 1, "lines": [{"productId": 31, "quantity": 3}]}""")).AssertProblemAsync(HttpStatusCode.Conflict);

        Assert.Equal(2, await fixture.Database.ScalarAsync<int>("SELECT stock FROM products WHERE id = 31"));
    }

    [Fact]
    public async Task PlaceOrder_ConcurrentOrdersForLastUnits_NeverOversell()
    {
        await fixture.Database.ExecuteAsync("UPDATE products SET stock = 5 WHERE id = 32");

        var responses = await Task.WhenAll(Enumerable.Range(0, 12).Select(_ =>
            _client.PostJsonAsync("/orders", """{"customerId": 1, "lines": [{"productId": 32, "quantity": 1}, {"productId": 33, "quantity": 1}]}""")));

        Assert.Equal(5, responses.Count(response => response.StatusCode == HttpStatusCode.Created));
        Assert.Equal(7, responses.Count(response => response.StatusCode == HttpStatusCode.Conflict));
        Assert.Equal(0, await fixture.Database.ScalarAsync<int>("SELECT stock FROM products WHERE id = 32"));
    }
}
