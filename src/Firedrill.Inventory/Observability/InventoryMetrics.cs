using System.Diagnostics.Metrics;

namespace Firedrill.Inventory.Observability;

/// <summary>
/// What the dependency itself saw. The lab divides <c>firedrill_inventory_requests_total</c> by
/// the shop's requests to measure amplification (retries at several layers), and reads the
/// in-flight and queued gauges to see saturation.
/// </summary>
internal sealed class InventoryMetrics
{
    public const string MeterName = "Firedrill.Inventory";
    public const string RequestsName = "firedrill.inventory.requests";
    public const string InFlightName = "firedrill.inventory.in_flight";
    public const string QueuedName = "firedrill.inventory.queued";

    private readonly Counter<long> _requests;
    private readonly UpDownCounter<long> _inFlight;
    private readonly UpDownCounter<long> _queued;

    public InventoryMetrics(IMeterFactory meters)
    {
        var meter = meters.Create(MeterName);
        _requests = meter.CreateCounter<long>(RequestsName, "{request}",
            "Requests to /inventory by outcome: ok (served), error (injected 503), rejected (queue full), aborted (caller gave up).");
        _inFlight = meter.CreateUpDownCounter<long>(InFlightName, "{request}",
            "Requests holding a capacity permit: being served, injected latency included.");
        _queued = meter.CreateUpDownCounter<long>(QueuedName, "{request}",
            "Requests waiting for a capacity permit (Inventory:MaxConcurrentRequests).");
    }

    public void Request(RequestOutcome outcome) =>
        _requests.Add(1, new KeyValuePair<string, object?>("outcome", outcome switch
        {
            RequestOutcome.Ok => "ok",
            RequestOutcome.Error => "error",
            RequestOutcome.Rejected => "rejected",
            RequestOutcome.Aborted => "aborted",
            _ => "unknown",
        }));

    public void InFlight(int delta) => _inFlight.Add(delta);

    public void Queued(int delta) => _queued.Add(delta);
}

internal enum RequestOutcome
{
    Ok,
    Error,
    Rejected,
    Aborted,
}
