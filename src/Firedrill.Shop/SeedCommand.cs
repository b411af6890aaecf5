using System.Globalization;
using Firedrill.Shop.Data;

namespace Firedrill.Shop;

/// <summary><c>Firedrill.Shop seed --orders N</c>: bulk volumes for the scenarios that need a big database.</summary>
internal static class SeedCommand
{
    public static async Task<int> RunAsync(WebApplication app, string[] args)
    {
        var customers = 0;
        if (args is not (["--orders", _] or ["--orders", _, "--customers", _])
            || !int.TryParse(args[1], NumberStyles.None, CultureInfo.InvariantCulture, out var orders) || orders < 1 || orders > BulkSeeder.MaxOrders
            || (args.Length == 4 && (!int.TryParse(args[3], NumberStyles.None, CultureInfo.InvariantCulture, out customers) || customers > BulkSeeder.MaxCustomers)))
        {
            await Console.Error.WriteLineAsync($"usage: Firedrill.Shop seed --orders N [--customers C]   (N from 1 to {BulkSeeder.MaxOrders:N0}, C up to {BulkSeeder.MaxCustomers:N0})");
            return 2;
        }

        var stopping = app.Lifetime.ApplicationStopping;
        await app.Services.GetRequiredService<DatabaseInitializer>().InitializeAsync(stopping);
        var progress = new Progress<int>(done => Console.Error.WriteLine(done <= orders
            ? $"seed: {done:N0} of {orders:N0} orders"
            : $"seed: lines of {done - orders:N0} of {orders:N0} orders"));
        await app.Services.GetRequiredService<BulkSeeder>().SeedOrdersAsync(orders, progress, stopping, customers);
        await Console.Error.WriteLineAsync($"seed: {orders:N0} orders written");
        return 0;
    }
}
