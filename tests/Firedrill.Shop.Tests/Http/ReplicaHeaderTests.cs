using Firedrill.Shop.Tests.Support;

namespace Firedrill.Shop.Tests.Http;

public sealed class ReplicaHeaderTests : IAsyncLifetime
{
    private TestDatabase _database = null!;

    public async Task InitializeAsync() => _database = await Engines.CreateDatabaseAsync();

    [Fact]
    public async Task Answer_NamesTheReplicaThatGaveIt()
    {
        await using var shop = new ShopInstance(_database.ConnectionString, new Dictionary<string, string?> { ["Lab:InstanceId"] = "shop-7" });
        using var client = shop.CreateClient();

        using var product = await client.GetAsync("/products/1");
        using var missing = await client.GetAsync("/products/999999");

        // Success or not, every answer says which replica gave it (the lab tells a just-added replica's answers from a warm one's).
        Assert.Equal("shop-7", Assert.Single(product.Headers.GetValues("X-Firedrill-Replica")));
        Assert.Equal("shop-7", Assert.Single(missing.Headers.GetValues("X-Firedrill-Replica")));
    }

    public async Task DisposeAsync() => await _database.DisposeAsync();
}
