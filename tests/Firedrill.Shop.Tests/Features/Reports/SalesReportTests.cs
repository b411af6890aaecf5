using System.Net;
using Firedrill.Shop.Features.Orders;
using Firedrill.Shop.Features.Reports;
using Firedrill.Shop.Tests.Support;

namespace Firedrill.Shop.Tests.Features.Reports;

public sealed class SalesReportTests(ShopFixture fixture) : IClassFixture<ShopFixture>
{
    private readonly HttpClient _client = fixture.Client;

    [Fact]
    public async Task Sales_AfterOrders_TotalsEveryLineOfThePeriod()
    {
        var order = await (await _client.PostJsonAsync("/orders", """{"customerId": 3, "lines": [{"productId": 7, "quantity": 3}, {"productId": 8, "quantity": 1}]}"""))
            .ReadAsync<Order>(HttpStatusCode.Created);

        var report = await (await _client.GetAsync("/reports/sales?days=30&top=5")).ReadAsync<SalesTrendReport>();

        Assert.Equal(30, report.Days);
        Assert.Equal(await fixture.Database.ScalarAsync<long>("SELECT count(*) FROM products"), report.Products);
        Assert.Equal(await fixture.Database.ScalarAsync<decimal>("SELECT sum(quantity * unit_price) FROM order_lines"), report.Revenue);
        Assert.Equal(await fixture.Database.ScalarAsync<long>("SELECT sum(quantity) FROM order_lines"), report.Units);
        Assert.InRange(report.Top.Count, 2, 5);
        var seven = Assert.Single(report.Top, product => product.ProductId == 7);
        Assert.Equal(3, seven.Units);
        Assert.Equal(order.Lines[0].UnitPrice * 3, seven.Revenue);
        // Today's sales over a 7-day window of calendar days, the days without sales counting as zero.
        Assert.Equal(Math.Round(seven.Revenue / 7, 2), seven.Latest7DayAverage);
        Assert.Equal(Math.Round(seven.Revenue / 28, 2), seven.Latest28DayAverage);
    }

    [Theory]
    [InlineData("/reports/sales?days=0", "days")]
    [InlineData("/reports/sales?days=1097", "days")]
    [InlineData("/reports/sales?top=0", "top")]
    [InlineData("/reports/sales?top=101", "top")]
    public async Task Sales_OutOfRange_Returns400NamingTheField(string path, string field) =>
        await (await _client.GetAsync(path)).AssertInvalidFieldAsync(field);

    [Fact]
    public async Task Sales_NotANumber_Returns400() =>
        await (await _client.GetAsync("/reports/sales?days=many")).AssertProblemAsync(HttpStatusCode.BadRequest);
}
