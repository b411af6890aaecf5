using Firedrill.Shop.Data;
using Firedrill.Shop.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Firedrill.Shop.Tests.Data;

public sealed class BulkSeederTests(ShopFixture fixture) : IClassFixture<ShopFixture>
{
    [Fact]
    public async Task SeedOrders_Count_WritesThatManyConsistentOrders()
    {
        var before = await fixture.Database.ScalarAsync<long>("SELECT count(*) FROM orders");

        await fixture.Shop.Services.GetRequiredService<BulkSeeder>().SeedOrdersAsync(5_000, progress: null, CancellationToken.None);

        Assert.Equal(before + 5_000, await fixture.Database.ScalarAsync<long>("SELECT count(*) FROM orders"));
        // Every order has lines, and its total is the sum of them.
        Assert.Equal(0, await fixture.Database.ScalarAsync<long>("""
            SELECT count(*) FROM orders o
            WHERE o.total IS DISTINCT FROM (SELECT sum(l.quantity * l.unit_price) FROM order_lines l WHERE l.order_id = o.id)
            """));
        // The identity moved past the copied ids: a new order still gets a fresh id.
        using var client = fixture.Shop.CreateClient();
        var response = await client.PostJsonAsync("/orders", """{"customerId": 1, "lines": [{"productId": 1, "quantity": 1}]}""");
        Assert.Equal(System.Net.HttpStatusCode.Created, response.StatusCode);
    }
}
