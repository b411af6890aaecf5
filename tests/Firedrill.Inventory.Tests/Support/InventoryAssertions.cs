using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;

namespace Firedrill.Inventory.Tests.Support;

/// <summary>Inventory-specific reads and timings.</summary>
public static class InventoryAssertions
{
    /// <summary>Units available of <paramref name="sku"/>, read through the API.</summary>
    public static async Task<int> AvailableAsync(this HttpClient client, string sku) =>
        (await (await client.GetAsync($"/inventory/{sku}")).ReadJsonAsync()).GetProperty("available").GetInt32();

    /// <summary>How long the call took, as the client saw it.</summary>
    public static async Task<(T Result, TimeSpan Elapsed)> TimeAsync<T>(Func<Task<T>> call)
    {
        var started = Stopwatch.GetTimestamp();
        var result = await call();
        return (result, Stopwatch.GetElapsedTime(started));
    }
}
