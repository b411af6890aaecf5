using System.Net;
using System.Text;
using System.Text.Json;
using Firedrill.ServiceDefaults.Control;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Configuration.Memory;

namespace Firedrill.Inventory.Tests.Support;

/// <summary>
/// The real inventory service on a real Kestrel bound to loopback, in lab mode so a test turns
/// its knobs through <c>/_lab/config</c> exactly as the lab does.
/// </summary>
public sealed class InventoryInstance : ServiceHost<Program>
{
    private readonly string _token = ServiceHost.NewToken();
    private HttpClient? _client;

    public InventoryInstance(IDictionary<string, string?>? settings = null)
    {
        Settings["Lab:Enabled"] = "true";
        Settings["Lab:Token"] = _token;
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            Settings[key] = value;
        }

        Start();
    }

    public HttpClient Client => _client ??= CreateClient();

    /// <summary>Writes lab overrides (a JSON object of keys to values) and asserts they were accepted.</summary>
    public async Task ConfigureAsync(string json)
    {
        using var response = await PutConfigAsync(json);
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"overrides rejected: {await response.Content.ReadAsStringAsync()}");
    }

    public Task<HttpResponseMessage> PutConfigAsync(string json) =>
        SendConfigAsync(HttpMethod.Put, json);

    public async Task<JsonElement> GetConfigAsync()
    {
        using var response = await SendConfigAsync(HttpMethod.Get, null);
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
    }

    private Task<HttpResponseMessage> SendConfigAsync(HttpMethod method, string? json) =>
        LabClient.SendAsync(Client, method, _token, json);

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _client?.Dispose();
        }

        base.Dispose(disposing);
    }
}
