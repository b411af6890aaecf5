using Firedrill.ServiceDefaults.Telemetry;
using Yarp.ReverseProxy.Forwarder;

namespace Firedrill.Gateway.Routing;

/// <summary>
/// YARP's forwarding client with the service defaults' switchable propagator inside its own
/// (which first removes the trace headers the client sent): with
/// <see cref="TelemetryOptions.PropagateTraceContext"/> off — the uncorrelated-logs incident's
/// dropped-context — the replica receives no <c>traceparent</c> and starts a trace of its own.
/// </summary>
internal sealed class PropagatingForwarderHttpClientFactory(SwitchablePropagator propagator, ILogger<ForwarderHttpClientFactory> logger)
    : ForwarderHttpClientFactory(logger)
{
    protected override void ConfigureHandler(ForwarderHttpClientContext context, SocketsHttpHandler handler)
    {
        base.ConfigureHandler(context, handler);
        handler.ActivityHeadersPropagator = new ReverseProxyPropagator(propagator);
    }
}
