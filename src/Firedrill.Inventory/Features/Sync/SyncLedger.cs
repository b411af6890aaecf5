using System.Diagnostics.Metrics;

namespace Firedrill.Inventory.Features.Sync;

/// <summary>A reconciliation the shop's scheduled job sent for one of its windows, with its lease's fencing token if it had one.</summary>
public sealed record SyncRequest(DateTimeOffset? Window, string? Replica, int? Checked, int? Differ, long? FencingToken = null);

/// <summary>
/// What inventory received for one window: how many reconciliations it took, from which replicas, and
/// how many it refused for a stale fencing token (from which replicas).
/// </summary>
public sealed record SyncWindow(DateTimeOffset Window, int Calls, IReadOnlyList<string> Replicas, int Refused, IReadOnlyList<string> RefusedReplicas);

/// <summary>
/// The reconciliations inventory received, per window of the shop's schedule. Each one makes the
/// warehouse re-count the products it names, so a window reconciled twice is work done twice:
/// the duplicate-scheduled-job incident's harm, counted here, outside the shop. Keeps the last
/// <see cref="Kept"/> windows.
/// A reconciliation that carries a fencing token smaller than one already taken for its window is
/// refused (Kleppmann's fencing, checked by the resource, not the lock): its sender's lease ended
/// while it ran and a later holder reconciled the window. A token is never compared across windows.
/// </summary>
internal sealed class SyncLedger
{
    public const int Kept = 500;

    private readonly Lock _gate = new();
    private readonly SortedDictionary<DateTimeOffset, Received> _windows = [];
    private readonly Counter<long> _requests;
    private readonly Counter<long> _repeats;
    private readonly Counter<long> _refused;

    public SyncLedger(IMeterFactory meters)
    {
        var meter = meters.Create(Observability.InventoryMetrics.MeterName);
        _requests = meter.CreateCounter<long>("firedrill.inventory.sync.requests", "{request}", "Reconciliations received from the shop's scheduled job.");
        _repeats = meter.CreateCounter<long>("firedrill.inventory.sync.repeats", "{request}",
            "Reconciliations for a window that had already been reconciled: the same work done again.");
        _refused = meter.CreateCounter<long>("firedrill.inventory.sync.refused", "{request}",
            "Reconciliations refused for a fencing token older than one already taken for their window.");
        // At zero from the start, so the first repeat shows in increase() and rate().
        _repeats.Add(0);
        _requests.Add(0);
        _refused.Add(0);
    }

    /// <returns>False when <paramref name="fencingToken"/> is older than a token already taken for the window (nothing recorded but the refusal).</returns>
    public bool Record(DateTimeOffset window, string replica, long? fencingToken = null)
    {
        bool repeat;
        lock (_gate)
        {
            if (!_windows.TryGetValue(window, out var received))
            {
                _windows[window] = received = new Received();
                while (_windows.Count > Kept)
                {
                    _windows.Remove(_windows.Keys.First());
                }
            }

            if (fencingToken < received.HighestToken)
            {
                received.Refused.Add(replica);
                _refused.Add(1);
                return false;
            }

            if (fencingToken is { } token)
            {
                received.HighestToken = Math.Max(received.HighestToken ?? token, token);
            }

            repeat = received.Replicas.Count > 0;
            received.Replicas.Add(replica);
        }

        _requests.Add(1);
        if (repeat)
        {
            _repeats.Add(1);
        }

        return true;
    }

    public IReadOnlyList<SyncWindow> Windows()
    {
        lock (_gate)
        {
            return _windows.Select(window => new SyncWindow(window.Key, window.Value.Replicas.Count, [.. window.Value.Replicas],
                window.Value.Refused.Count, [.. window.Value.Refused])).ToList();
        }
    }

    private sealed class Received
    {
        public List<string> Replicas { get; } = [];

        public List<string> Refused { get; } = [];

        public long? HighestToken { get; set; }
    }
}
