using System.Diagnostics.Metrics;

namespace Firedrill.Inventory.Features.Sync;

/// <summary>A reconciliation the shop's scheduled job sent for one of its windows.</summary>
public sealed record SyncRequest(DateTimeOffset? Window, string? Replica, int? Checked, int? Differ);

/// <summary>What inventory received for one window: how many reconciliations, from which replicas.</summary>
public sealed record SyncWindow(DateTimeOffset Window, int Calls, IReadOnlyList<string> Replicas);

/// <summary>
/// The reconciliations inventory received, per window of the shop's schedule. Each one makes the
/// warehouse re-count the products it names, so a window reconciled twice is work done twice:
/// the duplicate-scheduled-job incident's harm, counted here, outside the shop. Keeps the last
/// <see cref="Kept"/> windows.
/// </summary>
internal sealed class SyncLedger
{
    public const int Kept = 500;

    private readonly Lock _gate = new();
    private readonly SortedDictionary<DateTimeOffset, List<string>> _windows = [];
    private readonly Counter<long> _requests;
    private readonly Counter<long> _repeats;

    public SyncLedger(IMeterFactory meters)
    {
        var meter = meters.Create(Observability.InventoryMetrics.MeterName);
        _requests = meter.CreateCounter<long>("firedrill.inventory.sync.requests", "{request}", "Reconciliations received from the shop's scheduled job.");
        _repeats = meter.CreateCounter<long>("firedrill.inventory.sync.repeats", "{request}",
            "Reconciliations for a window that had already been reconciled: the same work done again.");
        // At zero from the start, so the first repeat shows in increase() and rate().
        _repeats.Add(0);
        _requests.Add(0);
    }

    public void Record(DateTimeOffset window, string replica)
    {
        bool repeat;
        lock (_gate)
        {
            if (!_windows.TryGetValue(window, out var replicas))
            {
                _windows[window] = replicas = [];
                while (_windows.Count > Kept)
                {
                    _windows.Remove(_windows.Keys.First());
                }
            }

            repeat = replicas.Count > 0;
            replicas.Add(replica);
        }

        _requests.Add(1);
        if (repeat)
        {
            _repeats.Add(1);
        }
    }

    public IReadOnlyList<SyncWindow> Windows()
    {
        lock (_gate)
        {
            return _windows.Select(window => new SyncWindow(window.Key, window.Value.Count, [.. window.Value])).ToList();
        }
    }
}
