using System.Globalization;
using Firedrill.Shop.Data;

namespace Firedrill.Shop;

/// <summary><c>Firedrill.Shop seed --orders N</c>: bulk volumes for the scenarios that need a big database.</summary>
internal static class SeedCommand
{
    public static async Task<int> RunAsync(WebApplication app, string[] args)
    {
        if (args is not ["--orders", var text] || !int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var orders)
            || orders < 1 || orders > BulkSeeder.MaxOrders)
        {
            await Console.Error.WriteLineAsync($"usage: Firedrill.Shop seed --orders N   (N from 1 to {BulkSeeder.MaxOrders:N0})");
            return 2;
        }

        var stopping = app.Lifetime.ApplicationStopping;
        await app.Services.GetRequiredService<DatabaseInitializer>().InitializeAsync(stopping);
        var progress = new Progress<int>(done => Console.Error.WriteLine($"seed: {done:N0} of {orders:N0} orders"));
        await app.Services.GetRequiredService<BulkSeeder>().SeedOrdersAsync(orders, progress, stopping);
        await Console.Error.WriteLineAsync($"seed: {orders:N0} orders written");
        return 0;
    }
}
