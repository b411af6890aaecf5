namespace Firedrill.Shop.Tests.Support;

/// <summary>A fresh database and one shop on it, shared by the tests of one class.</summary>
public sealed class ShopFixture : IAsyncLifetime
{
    public TestDatabase Database { get; private set; } = null!;

    public ShopInstance Shop { get; private set; } = null!;

    public HttpClient Client { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Database = await Engines.CreateDatabaseAsync();
        Shop = new ShopInstance(Database.ConnectionString);
        Client = Shop.CreateClient();
    }

    public async Task DisposeAsync()
    {
        Client.Dispose();
        await Shop.DisposeAsync();
        await Database.DisposeAsync();
    }
}
