using System.Net;
using System.Text;
using Firedrill.ServiceDefaults.Control;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Configuration.Memory;

namespace Firedrill.Gateway.Tests.Support;

/// <summary>
/// The real gateway on a real Kestrel bound to loopback, in lab mode, routing to the given
/// backends, with fast active health checks so tests can watch replicas leave and rejoin.
/// </summary>
public sealed class GatewayInstance : WebApplicationFactory<Program>
{
    public const string DestinationsKey = "ReverseProxy:Clusters:shop:Destinations";

    private readonly Dictionary<string, string?> _settings;

    public GatewayInstance(IReadOnlyList<Backend> backends, IDictionary<string, string?>? settings = null)
    {
        _settings = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase)
        {
            ["Logging:LogLevel:Default"] = "Warning",
            ["Lab:Enabled"] = "true",
            ["Lab:Token"] = Token,
            ["ReverseProxy:Clusters:shop:HealthCheck:Active:Interval"] = "00:00:00.5",
            ["ReverseProxy:Clusters:shop:HealthCheck:Active:Timeout"] = "00:00:01",
        };
        for (var i = 0; i < backends.Count; i++)
        {
            _settings[$"{DestinationsKey}:r{i + 1}:Address"] = backends[i].Address;
        }

        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            _settings[key] = value;
        }

        // The redirect handler buffers request bodies (to resend them), which would turn a chunked
        // body into one with a Content-Length; a gateway test has no redirects to follow anyway.
        ClientOptions.AllowAutoRedirect = false;
        UseKestrel(options => options.Listen(IPAddress.Loopback, 0));
        StartServer();
    }

    public string Token { get; } = Convert.ToHexString(Guid.NewGuid().ToByteArray()) + "lab";

    /// <summary>Writes overrides through the gateway's own <c>/_lab/config</c>, as the lab does.</summary>
    public Task<HttpResponseMessage> PutLabConfigAsync(HttpClient client, string json)
    {
        var request = new HttpRequestMessage(HttpMethod.Put, LabControlEndpoints.Path)
        {
            Content = new StringContent(json, Encoding.UTF8, "application/json"),
        };
        request.Headers.Add(LabControlEndpoints.TokenHeader, Token);
        return client.SendAsync(request);
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
}
