using Firedrill.Shop.Features.Catalog;
using Firedrill.Shop.Features.Inventory;
using Firedrill.Shop.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Firedrill.Shop.Tests.Features.Catalog;

/// <summary>
/// The thread-pool-starvation paths against a real inventory process: the blocking lookup and the
/// shared-pool refresh answer as the correct paths do — the defect is how they wait, not what they return.
/// </summary>
public sealed class AvailabilityPathsTests : IAsyncLifetime
{
    private TestDatabase _database = null!;
    private InventoryProcess _inventory = null!;

    public async Task InitializeAsync()
    {
        _database = await Engines.CreateDatabaseAsync();
        _inventory = await InventoryProcess.StartAsync();
    }

    [Theory]
    [InlineData("false")]
    [InlineData("true")]
    public async Task Availability_AwaitedOrBlocking_AnswersTheInventoryLevel(string blocking)
    {
        await using var shop = Shop(new() { ["Availability:BlockingInventoryLookup"] = blocking });
        using var client = shop.CreateClient();

        var availability = await (await client.GetAsync("/products/7/availability")).ReadAsync<Availability>();

        Assert.Equal(new Availability(7, "SKU-000007", 1_000_000, Availability.Known), availability);
    }

    [Theory]
    [InlineData("false")]
    [InlineData("true")]
    public async Task ProductRead_WithStockBadges_RefreshesTheBadgeInTheBackground(string sharedPool)
    {
        await using var shop = Shop(new() { ["Availability:StockBadges"] = "true", ["Availability:RefreshOnSharedPool"] = sharedPool });
        using var client = shop.CreateClient();
        var badges = shop.Services.GetRequiredService<StockBadges>();

        (await client.GetAsync("/products/9")).EnsureSuccessStatusCode();

        Assert.True(await Poll.UntilAsync(() => Task.FromResult(badges.Badge(9) == 1_000_000), TimeSpan.FromSeconds(10)), "the badge was never refreshed");
    }

    [Fact]
    public async Task ProductRead_WithoutStockBadges_CallsNoInventory()
    {
        await using var shop = Shop();
        using var client = shop.CreateClient();
        var badges = shop.Services.GetRequiredService<StockBadges>();

        (await client.GetAsync("/products/11")).EnsureSuccessStatusCode();
        await Task.Delay(300);

        Assert.Null(badges.Badge(11));
    }

    private ShopInstance Shop(Dictionary<string, string?>? settings = null)
    {
        settings ??= [];
        settings["InventoryClient:BaseAddress"] = _inventory.Address.ToString();
        return new ShopInstance(_database.ConnectionString, settings);
    }

    public async Task DisposeAsync()
    {
        await _inventory.DisposeAsync();
        await _database.DisposeAsync();
    }
}
