using System.Net;
using System.Text.Json;

namespace Firedrill.Gateway.Tests.Support;

/// <summary>Assertions about what the echo backends saw through the gateway.</summary>
public static class GatewayAssertions
{
    public static async Task<Echo> ReadEchoAsync(this HttpResponseMessage response)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"expected 200, got {(int)response.StatusCode}: {body}");
        return JsonSerializer.Deserialize<Echo>(body, JsonSerializerOptions.Web)!;
    }

    /// <summary>Which backend answered <c>GET path</c> through the gateway.</summary>
    public static async Task<string> ServedByAsync(this HttpClient client, string path = "/api/products/1") =>
        (await (await client.GetAsync(path)).ReadEchoAsync()).Backend;

    /// <summary>
    /// Polls <paramref name="condition"/> until it holds or <paramref name="deadline"/> passes: the
    /// only way these tests wait for the gateway's background work (config reloads, health probes).
    /// </summary>
    public static async Task EventuallyAsync(Func<Task<bool>> condition, string what, TimeSpan? deadline = null)
    {
        var limit = deadline ?? TimeSpan.FromSeconds(10);
        Assert.True(await Poll.UntilAsync(condition, limit), $"{what} did not happen within {limit.TotalSeconds} s.");
    }
}

/// <summary>
/// A request body of unknown length, so the client sends it chunked; <paramref name="halfway"/>
/// runs after the first half is on the wire, before the rest is sent.
/// </summary>
public sealed class ChunkedContent(byte[] data, Func<Task>? halfway = null) : HttpContent
{
    protected override async Task SerializeToStreamAsync(Stream stream, System.Net.TransportContext? context)
    {
        var half = data.Length / 2;
        await stream.WriteAsync(data.AsMemory(0, half));
        await stream.FlushAsync();
        if (halfway is not null)
        {
            await halfway();
        }

        await stream.WriteAsync(data.AsMemory(half));
    }

    protected override bool TryComputeLength(out long length)
    {
        length = 0;
        return false;
    }
}
