using System.Net;
using Firedrill.ServiceDefaults.Control;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Configuration.Memory;

namespace Firedrill.Testing;

/// <summary>
/// A Firedrill service in a test: the real app, on a real Kestrel bound to loopback (or the
/// in-memory test server, whose callers are not loopback), with the test's settings.
/// </summary>
public class ServiceHost<TEntryPoint> : WebApplicationFactory<TEntryPoint>
    where TEntryPoint : class
{
    private readonly Dictionary<string, string?> _settings = new(StringComparer.OrdinalIgnoreCase)
    {
        ["Logging:LogLevel:Default"] = "Warning",
    };

    public ServiceHost(IDictionary<string, string?>? settings = null, bool realServer = true)
    {
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            _settings[key] = value;
        }

        if (realServer)
        {
            UseKestrel(options => options.Listen(IPAddress.Loopback, 0));
        }
    }

    /// <summary>The settings the host starts with; a subclass may add to them before <see cref="Start"/>.</summary>
    protected IDictionary<string, string?> Settings => _settings;

    /// <summary>Builds and starts the host now rather than on first use, so start-up failures surface here.</summary>
    protected void Start() => StartServer();

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

public static class ServiceHost
{
    /// <summary>A fresh token good enough for <c>Lab:Token</c>.</summary>
    public static string NewToken() => Convert.ToHexString(Guid.NewGuid().ToByteArray()) + "lab";
}
