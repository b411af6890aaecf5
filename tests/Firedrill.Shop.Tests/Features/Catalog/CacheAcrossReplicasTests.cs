using Firedrill.Shop.Features.Catalog;
using Firedrill.Shop.Tests.Support;

namespace Firedrill.Shop.Tests.Features.Catalog;

/// <summary>Two shops on one database and one Redis: replicas, each with its own in-memory cache.</summary>
public sealed class CacheAcrossReplicasTests : IAsyncLifetime
{
    private TestDatabase _database = null!;
    private ShopInstance _first = null!;
    private ShopInstance _second = null!;

    public async Task InitializeAsync()
    {
        _database = await Engines.CreateDatabaseAsync();
        _first = new ShopInstance(_database.ConnectionString);
        _second = new ShopInstance(_database.ConnectionString);
    }

    [Fact]
    public async Task UpdatePrice_OnOneReplica_IsReadOnTheOther()
    {
        using var first = _first.CreateClient();
        using var second = _second.CreateClient();
        var original = await (await second.GetAsync("/products/3")).ReadAsync<Product>(); // in the second's memory now
        await (await first.PutJsonAsync("/products/3/price", $$"""{"price": {{original.Price + 1}}}""")).ReadAsync<Product>();

        // The broadcast crosses Redis pub/sub asynchronously: allow it a moment, far below the 30 s L1 expiry.
        var deadline = DateTime.UtcNow.AddSeconds(3);
        Product read;
        do
        {
            read = await (await second.GetAsync("/products/3")).ReadAsync<Product>();
        }
        while (read.Price == original.Price && DateTime.UtcNow < deadline && await Delay());

        Assert.Equal(original.Price + 1, read.Price);
    }

    private static async Task<bool> Delay()
    {
        await Task.Delay(50);
        return true;
    }

    public async Task DisposeAsync()
    {
        await _first.DisposeAsync();
        await _second.DisposeAsync();
        await _database.DisposeAsync();
    }
}
