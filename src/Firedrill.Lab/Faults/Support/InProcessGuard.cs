using System.Net;
using Firedrill.ServiceDefaults;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

namespace Firedrill.Lab.Faults.Support;

/// <summary>
/// Where no network namespace can be made: the services' own control endpoint (ServiceDefaults'
/// <c>MapLabControl</c>, the code every service maps) hosted in this process on loopback, behind
/// one middleware that gives a request the remote address named in <see cref="RemoteHeader"/>, as
/// if its connection had come from there. No packet leaves loopback.
/// </summary>
internal static class InProcessGuard
{
    public const string RemoteHeader = "X-Fault-Remote-Address";

    public static async Task<WebApplication> StartAsync(string token, CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Lab:Enabled"] = "true",
            ["Lab:Token"] = token,
            ["Lab:InstanceId"] = "in-process-guard",
        });
        builder.AddServiceDefaults("firedrill-guard-probe");
        var app = builder.Build();
        app.Use((context, next) =>
        {
            if (IPAddress.TryParse(context.Request.Headers[RemoteHeader].ToString(), out var remote))
            {
                context.Connection.RemoteIpAddress = remote;
            }

            return next(context);
        });
        app.MapServiceDefaults();
        await app.StartAsync(cancellationToken);
        return app;
    }
}
