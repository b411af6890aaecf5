using Firedrill.ServiceDefaults.Control;

namespace Firedrill.Testing;

/// <summary>Reads and writes a service's lab overrides, as the lab does.</summary>
public static class LabClient
{
    public static Task<HttpResponseMessage> SendAsync(HttpClient client, HttpMethod method, string? token, string? json = null)
    {
        var request = new HttpRequestMessage(method, LabControlEndpoints.Path);
        if (token is not null)
        {
            request.Headers.Add(LabControlEndpoints.TokenHeader, token);
        }

        if (json is not null)
        {
            request.Content = new StringContent(json, System.Text.Encoding.UTF8, "application/json");
        }

        return client.SendAsync(request);
    }

    /// <summary>Writes overrides (a JSON object of keys to values) and asserts they were accepted.</summary>
    public static async Task SetAsync(HttpClient client, string token, string json)
    {
        using var response = await SendAsync(client, HttpMethod.Put, token, json);
        Assert.True(response.IsSuccessStatusCode, $"PUT {LabControlEndpoints.Path} {json}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    }
}
