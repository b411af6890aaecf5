using System.Runtime.CompilerServices;
using Firedrill.Shop.Features.Catalog;
using Firedrill.Shop.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Firedrill.Shop.Tests.Features.Catalog;

/// <summary>The memory-growth paths of catalog search, against real PostgreSQL and Redis.</summary>
public sealed class SearchMemoryTests : IAsyncLifetime
{
    private TestDatabase _database = null!;

    public async Task InitializeAsync() => _database = await Engines.CreateDatabaseAsync();

    [Fact]
    public async Task Search_CachedResults_AnswerTheSameUrlFromTheCache()
    {
        await using var shop = new ShopInstance(_database.ConnectionString, new Dictionary<string, string?> { ["Search:CacheResults"] = "true" });
        using var client = shop.CreateClient();
        var first = await (await client.GetAsync("/products?query=lamp&_=1")).ReadAsync<ProductPage>();
        await RenameAsync(first.Items[0].Id, "Renamed Lamp");

        var again = await (await client.GetAsync("/products?query=lamp&_=1")).ReadAsync<ProductPage>();
        var anotherUrl = await (await client.GetAsync("/products?query=lamp&_=2")).ReadAsync<ProductPage>();

        Assert.Equal(first.Items[0].Name, again.Items[0].Name);
        Assert.Equal("Renamed Lamp", anotherUrl.Items[0].Name);
    }

    [Fact]
    public async Task Search_BoundedCache_KeepsAtMostItsSizeLimit()
    {
        await using var shop = new ShopInstance(_database.ConnectionString, new Dictionary<string, string?>
        {
            ["Search:CacheResults"] = "true",
            ["Search:CacheSizeLimit"] = "5",
        });
        using var client = shop.CreateClient();
        var cache = shop.Services.GetRequiredService<SearchCache>();

        for (var i = 0; i < 20; i++)
        {
            (await client.GetAsync($"/products?query=red&_={i}")).EnsureSuccessStatusCode();
        }

        Assert.InRange(cache.BoundedCount, 1, 5);
    }

    [Fact]
    public async Task Search_UnboundedCache_KeepsEveryDistinctUrl()
    {
        await using var shop = new ShopInstance(_database.ConnectionString, new Dictionary<string, string?>
        {
            ["Search:CacheResults"] = "true",
            ["Search:UnboundedCache"] = "true",
            ["Search:CacheSizeLimit"] = "5",
        });
        using var client = shop.CreateClient();
        var before = SearchCache.UnboundedSearchCache.Count;

        for (var i = 0; i < 20; i++)
        {
            (await client.GetAsync($"/products?query=blue&_=unbounded-{Guid.NewGuid():N}")).EnsureSuccessStatusCode();
        }

        Assert.True(SearchCache.UnboundedSearchCache.Count - before >= 20);
    }

    [Fact]
    public async Task ResultsView_Disposed_LeavesNothingReachable()
    {
        await using var shop = new ShopInstance(_database.ConnectionString);
        var options = shop.Services.GetRequiredService<IOptionsMonitor<CatalogOptions>>();

        var page = Watched(options, leak: false);
        Collect();

        Assert.False(page.IsAlive);
    }

    [Fact]
    public async Task ResultsView_SubscriptionDropped_IsKeptAliveByTheOptionsMonitor()
    {
        await using var shop = new ShopInstance(_database.ConnectionString);
        var options = shop.Services.GetRequiredService<IOptionsMonitor<CatalogOptions>>();

        var page = Watched(options, leak: true);
        Collect();

        Assert.True(page.IsAlive);
    }

    /// <summary>A request's view of a page, rendered and let go, as the endpoint does; the page is returned weakly.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static WeakReference Watched(IOptionsMonitor<CatalogOptions> options, bool leak)
    {
        var page = new ProductPage([new Product(1, "SKU-000001", "Lamp", 1m, 1, DateTime.UtcNow)], 1, 20, 1);
        using var view = leak ? SearchResultsView.WatchWithoutUnsubscribing(page, options) : SearchResultsView.Watch(page, options);
        view.Render();
        return new WeakReference(page);
    }

    private static void Collect()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
    }

    private async Task RenameAsync(long id, string name)
    {
        await using var connection = new Npgsql.NpgsqlConnection(_database.ConnectionString);
        await connection.OpenAsync();
        await using var command = new Npgsql.NpgsqlCommand("UPDATE products SET name = @name WHERE id = @id", connection);
        command.Parameters.AddWithValue("name", name);
        command.Parameters.AddWithValue("id", id);
        await command.ExecuteNonQueryAsync();
    }

    public async Task DisposeAsync() => await _database.DisposeAsync();
}
