using System.Diagnostics;
using Microsoft.Extensions.Options;

namespace Firedrill.ServiceDefaults.Telemetry;

/// <summary>
/// W3C trace context on outbound requests, unless <see cref="TelemetryOptions.PropagateTraceContext"/>
/// is off: then nothing is injected, as with a client built with a no-output propagator. Reading
/// incoming context is never switched off; only what leaves the process is.
/// </summary>
public sealed class SwitchablePropagator(IOptionsMonitor<TelemetryOptions> options) : DistributedContextPropagator
{
    private readonly DistributedContextPropagator _w3c = CreateDefaultPropagator();

    public override IReadOnlyCollection<string> Fields => _w3c.Fields;

    public override void Inject(Activity? activity, object? carrier, PropagatorSetterCallback? setter)
    {
        if (options.CurrentValue.PropagateTraceContext)
        {
            _w3c.Inject(activity, carrier, setter);
        }
    }

    public override void ExtractTraceIdAndState(object? carrier, PropagatorGetterCallback? getter, out string? traceId, out string? traceState) =>
        _w3c.ExtractTraceIdAndState(carrier, getter, out traceId, out traceState);

    public override IEnumerable<KeyValuePair<string, string?>>? ExtractBaggage(object? carrier, PropagatorGetterCallback? getter) =>
        _w3c.ExtractBaggage(carrier, getter);
}
