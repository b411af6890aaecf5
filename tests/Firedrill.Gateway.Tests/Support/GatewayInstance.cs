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
public sealed class GatewayInstance : ServiceHost<Program>
{
    public const string DestinationsKey = "ReverseProxy:Clusters:shop:Destinations";

    public GatewayInstance(IReadOnlyList<Backend> backends, IDictionary<string, string?>? settings = null)
    {
        var defaults = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase)
        {
            ["Lab:Enabled"] = "true",
            ["Lab:Token"] = Token,
            ["ReverseProxy:Clusters:shop:HealthCheck:Active:Interval"] = "00:00:00.5",
            ["ReverseProxy:Clusters:shop:HealthCheck:Active:Timeout"] = "00:00:01",
        };
        for (var i = 0; i < backends.Count; i++)
        {
            defaults[$"{DestinationsKey}:r{i + 1}:Address"] = backends[i].Address;
        }

        foreach (var (key, value) in defaults)
        {
            Settings.TryAdd(key, value);
        }

        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            Settings[key] = value;
        }

        // The redirect handler buffers request bodies (to resend them), which would turn a chunked
        // body into one with a Content-Length; a gateway test has no redirects to follow anyway.
        ClientOptions.AllowAutoRedirect = false;
        Start();
    }

    public string Token { get; } = ServiceHost.NewToken();

    /// <summary>Writes overrides through the gateway's own <c>/_lab/config</c>, as the lab does.</summary>
    public Task<HttpResponseMessage> PutLabConfigAsync(HttpClient client, string json) =>
        LabClient.SendAsync(client, HttpMethod.Put, Token, json);
}
