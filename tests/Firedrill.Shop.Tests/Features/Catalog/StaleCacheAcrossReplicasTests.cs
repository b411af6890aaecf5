using Firedrill.Shop.Features.Catalog;
using Firedrill.Shop.Tests.Support;

namespace Firedrill.Shop.Tests.Features.Catalog;

/// <summary>
/// The stale-cache incident's code paths on two real replicas (one database, one Redis, a memory
/// cache each): the shipped defects leave a replica's copy stale, the correct paths reach it.
/// </summary>
public sealed class StaleCacheAcrossReplicasTests : IAsyncLifetime
{
    private TestDatabase _database = null!;
    private readonly List<ShopInstance> _shops = [];

    public async Task InitializeAsync() => _database = await Engines.CreateDatabaseAsync();

    [Fact]
    public async Task UpdatePrice_BroadcastOff_OtherReplicaKeepsItsCopy()
    {
        var (first, second) = Replicas(new() { ["Catalog:InvalidationBroadcast"] = "false" });
        var original = await (await second.GetAsync("/products/5")).ReadAsync<Product>();

        await (await first.PutJsonAsync("/products/5/price", $$"""{"price": {{original.Price + 1}}}""")).ReadAsync<Product>();
        // Far longer than a pub/sub message takes, far shorter than the 30 s memory lifetime.
        await Task.Delay(TimeSpan.FromSeconds(1));

        Assert.Equal(original.Price, (await (await second.GetAsync("/products/5")).ReadAsync<Product>()).Price);
        Assert.Equal(original.Price + 1, (await (await first.GetAsync("/products/5")).ReadAsync<Product>()).Price);
    }

    [Fact]
    public async Task ImportPrices_ThroughCatalog_IsReadOnTheOtherReplica()
    {
        var (first, second) = Replicas(new());
        var original = await (await second.GetAsync("/products/6")).ReadAsync<Product>();

        var result = await (await first.PostJsonAsync("/products/prices", $$"""{"items": [{"productId": 6, "price": {{original.Price + 2}}}]}"""))
            .ReadAsync<PriceImportResult>();

        Assert.Equal([6L], result.Updated);
        Assert.True(await Poll.UntilAsync(
            async () => (await (await second.GetAsync("/products/6")).ReadAsync<Product>()).Price == original.Price + 2, TimeSpan.FromSeconds(5)),
            "the other replica still answers the old price 5 s after the import");
    }

    [Fact]
    public async Task ImportPrices_BypassingCache_NoReplicaSeesTheNewPrice()
    {
        var (first, second) = Replicas(new() { ["Catalog:PriceImportBypassesCache"] = "true" });
        var original = await (await second.GetAsync("/products/7")).ReadAsync<Product>();
        await first.GetAsync("/products/7");

        await (await first.PostJsonAsync("/products/prices", $$"""{"items": [{"productId": 7, "price": {{original.Price + 3}}}]}"""))
            .ReadAsync<PriceImportResult>();
        await Task.Delay(TimeSpan.FromSeconds(1));

        Assert.Equal(original.Price + 3, await _database.ScalarAsync<decimal>("SELECT price FROM products WHERE id = 7"));
        Assert.Equal(original.Price, (await (await first.GetAsync("/products/7")).ReadAsync<Product>()).Price);
        Assert.Equal(original.Price, (await (await second.GetAsync("/products/7")).ReadAsync<Product>()).Price);
    }

    private (HttpClient First, HttpClient Second) Replicas(Dictionary<string, string?> settings)
    {
        _shops.Add(new ShopInstance(_database.ConnectionString, settings));
        _shops.Add(new ShopInstance(_database.ConnectionString, settings));
        return (_shops[0].CreateClient(), _shops[1].CreateClient());
    }

    public async Task DisposeAsync()
    {
        foreach (var shop in _shops)
        {
            await shop.DisposeAsync();
        }

        await _database.DisposeAsync();
    }
}
