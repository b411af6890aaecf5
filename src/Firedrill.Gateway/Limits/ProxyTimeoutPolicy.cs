using Microsoft.AspNetCore.Http.Timeouts;
using Microsoft.Extensions.Options;

namespace Firedrill.Gateway.Limits;

/// <summary>
/// The request-timeout policy of the proxied routes (ASP.NET Core request timeouts, which YARP
/// understands), its length taken from <see cref="GatewayOptions.RequestTimeout"/>.
/// </summary>
internal sealed class ProxyTimeoutPolicy(IOptionsFactory<GatewayOptions> gateway) : IConfigureOptions<RequestTimeoutOptions>
{
    public const string Name = "proxy";

    // A fresh GatewayOptions from the factory rather than IOptionsMonitor: this runs inside a
    // configuration reload, when the monitor's cache may not have been refreshed yet.
    public void Configure(RequestTimeoutOptions options) =>
        options.AddPolicy(Name, new RequestTimeoutPolicy
        {
            Timeout = gateway.Create(Options.DefaultName).RequestTimeout,
            TimeoutStatusCode = StatusCodes.Status504GatewayTimeout,
        });
}
