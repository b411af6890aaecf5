using Firedrill.ServiceDefaults.Control;

namespace Firedrill.Shop.Tests.Support;

/// <summary>Writes a service's lab overrides, as the lab does.</summary>
public static class LabClient
{
    public static async Task SetAsync(HttpClient client, string token, string json)
    {
        using var request = new HttpRequestMessage(HttpMethod.Put, LabControlEndpoints.Path)
        {
            Content = new StringContent(json, System.Text.Encoding.UTF8, "application/json"),
        };
        request.Headers.Add(LabControlEndpoints.TokenHeader, token);
        using var response = await client.SendAsync(request);
        Assert.True(response.IsSuccessStatusCode, $"PUT {LabControlEndpoints.Path} {json}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    }
}
