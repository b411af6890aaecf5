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
public sealed class InventoryInstance : WebApplicationFactory<Program>
{
    private readonly string _token = Convert.ToHexString(Guid.NewGuid().ToByteArray()) + "lab";
    private readonly Dictionary<string, string?> _settings;
    private HttpClient? _client;

    public InventoryInstance(IDictionary<string, string?>? settings = null)
    {
        _settings = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase)
        {
            ["Lab:Enabled"] = "true",
            ["Lab:Token"] = _token,
            ["Logging:LogLevel:Default"] = "Warning",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            _settings[key] = value;
        }

        UseKestrel(options => options.Listen(IPAddress.Loopback, 0));
        StartServer();
    }

    public HttpClient Client => _client ??= CreateClient();

    /// <summary>Writes lab overrides (a JSON object of keys to values) and asserts they were accepted.</summary>
    public async Task ConfigureAsync(string json)
    {
        using var response = await PutConfigAsync(json);
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"overrides rejected: {await response.Content.ReadAsStringAsync()}");
    }

    public Task<HttpResponseMessage> PutConfigAsync(string json) =>
        SendConfigAsync(HttpMethod.Put, new StringContent(json, Encoding.UTF8, "application/json"));

    public async Task<JsonElement> GetConfigAsync()
    {
        using var response = await SendConfigAsync(HttpMethod.Get, null);
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
    }

    private Task<HttpResponseMessage> SendConfigAsync(HttpMethod method, HttpContent? content)
    {
        var request = new HttpRequestMessage(method, LabControlEndpoints.Path) { Content = content };
        request.Headers.Add(LabControlEndpoints.TokenHeader, _token);
        return Client.SendAsync(request);
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder) =>
        builder.ConfigureAppConfiguration((_, configuration) =>
        {
            // Before the lab overrides, which must stay the last source so that what the lab writes wins.
            var index = configuration.Sources.ToList().FindIndex(source => source is LabOverrides);
            var settings = new MemoryConfigurationSource { InitialData = _settings };
            if (index < 0)
            {
                configuration.Sources.Add(settings);
            }
            else
            {
                configuration.Sources.Insert(index, settings);
            }
        });

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _client?.Dispose();
        }

        base.Dispose(disposing);
    }
}
