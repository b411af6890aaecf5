using System.Net;

namespace Firedrill.Shop.Tests.Support;

public static class HealthProbe
{
    /// <summary>
    /// Probes <paramref name="path"/> every 100 ms until it stops answering 200 (a cached healthy result
    /// lasts one cache life); returns that answer, or the last 200 after 10 s.
    /// </summary>
    public static async Task<HttpResponseMessage> FirstNotOkAsync(HttpClient client, string path)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (true)
        {
            var response = await client.GetAsync(path);
            if (response.StatusCode != HttpStatusCode.OK || DateTime.UtcNow > deadline)
            {
                return response;
            }

            await Task.Delay(100);
        }
    }
}
