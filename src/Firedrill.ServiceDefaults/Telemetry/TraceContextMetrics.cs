using System.Diagnostics.Metrics;

namespace Firedrill.ServiceDefaults.Telemetry;

/// <summary>
/// Whether work joined the trace of whatever caused it: a request that arrived with a W3C parent,
/// a consumed message that carried one. Below the edge, work without a parent is a trace the
/// logs cannot follow back to its request.
/// </summary>
public sealed class TraceContextMetrics
{
    public const string MeterName = "Firedrill.Telemetry";

    private readonly Counter<long> _joins;
    private readonly Counter<long> _records;

    public TraceContextMetrics(IMeterFactory meters)
    {
        var meter = meters.Create(MeterName);
        _joins = meter.CreateCounter<long>("firedrill.trace_context.joins", "{unit}",
            "Requests and consumed messages by whether they continued a caller's trace (parent=remote) or started one (parent=none).");
        _records = meter.CreateCounter<long>("firedrill.logs.records", "{record}",
            "Log records written, by whether the line carries the trace id (trace_id=present) or cannot be joined to a request (absent).");
        foreach (var kind in new[] { "request", "message" })
        {
            foreach (var parent in new[] { "remote", "none" })
            {
                _joins.Add(0, Kind(kind), Parent(parent));
            }
        }

        _records.Add(0, TraceId(true));
        _records.Add(0, TraceId(false));
    }

    public void Request(bool remoteParent) => _joins.Add(1, Kind("request"), Parent(remoteParent ? "remote" : "none"));

    public void Message(bool remoteParent) => _joins.Add(1, Kind("message"), Parent(remoteParent ? "remote" : "none"));

    public void Record(bool carriesTraceId) => _records.Add(1, TraceId(carriesTraceId));

    private static KeyValuePair<string, object?> Kind(string kind) => new("kind", kind);

    private static KeyValuePair<string, object?> Parent(string parent) => new("parent", parent);

    private static KeyValuePair<string, object?> TraceId(bool present) => new("trace_id", present ? "present" : "absent");
}
