using System.Globalization;
using System.Net;

namespace Firedrill.Lab.Fleet;

/// <summary>
/// How the supervisor probes, like a Kubernetes liveness probe (<c>periodSeconds</c>,
/// <c>timeoutSeconds</c>, <c>failureThreshold</c>) with a startup probe's grace, and the
/// CrashLoopBackOff between restarts of one replica, scaled down from 10 s…5 min to the lab's seconds.
/// </summary>
public sealed record SupervisorOptions
{
    public string Path { get; init; } = "/health/live";

    public TimeSpan Period { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Kubernetes' default <c>timeoutSeconds</c>: a probe that takes longer has failed.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(1);

    public int FailureThreshold { get; init; } = 3;

    /// <summary>After a (re)start, failures don't count until the first success or until this has passed.</summary>
    public TimeSpan StartupGrace { get; init; } = TimeSpan.FromSeconds(20);

    public TimeSpan InitialBackoff { get; init; } = TimeSpan.FromSeconds(1);

    public TimeSpan MaxBackoff { get; init; } = TimeSpan.FromSeconds(4);
}

/// <summary>
/// What a kubelet does for the shop's replicas: probe each one's liveness endpoint on a period and
/// restart the process (same settings, same address) after enough consecutive failures, or when it
/// exited. Every decision is a line in <c>logs/supervisor.log</c>; restarts are counted per replica.
/// </summary>
public sealed class ReplicaSupervisor : IAsyncDisposable
{
    private readonly LabFleet _fleet;
    private readonly SupervisorOptions _options;
    private readonly CancellationTokenSource _stop = new();
    private readonly StreamWriter _log;
    private readonly HttpClient _http;
    private readonly Dictionary<string, State> _states = [];
    private readonly Dictionary<string, Task> _probing = [];
    private readonly HashSet<string> _tickPending = [];
    private readonly List<(string Replica, DateTimeOffset At)> _restartLog = [];
    private Task _loop = Task.CompletedTask;

    private sealed class State(DateTimeOffset started)
    {
        public DateTimeOffset Started { get; set; } = started;
        public bool SeenLive { get; set; }
        public int Failures { get; set; }
        public int Restarts { get; set; }
        public TimeSpan Backoff { get; set; }
        public DateTimeOffset NotBefore { get; set; }
    }

    private ReplicaSupervisor(LabFleet fleet, SupervisorOptions options)
    {
        (_fleet, _options) = (fleet, options);
        LogPath = System.IO.Path.Combine(fleet.Logs, "supervisor.log");
        _log = new StreamWriter(LogPath, append: true) { AutoFlush = true };
        _http = new HttpClient { Timeout = options.Timeout };
    }

    public string LogPath { get; }

    /// <summary>Every restart so far: which replica, and when the supervisor decided it.</summary>
    public IReadOnlyList<(string Replica, DateTimeOffset At)> RestartLog
    {
        get
        {
            lock (_states)
            {
                return [.. _restartLog];
            }
        }
    }

    /// <summary>Restarts so far, by replica.</summary>
    public IReadOnlyDictionary<string, int> Restarts
    {
        get
        {
            lock (_states)
            {
                return _states.ToDictionary(pair => pair.Key, pair => pair.Value.Restarts);
            }
        }
    }

    internal static ReplicaSupervisor Start(LabFleet fleet, SupervisorOptions options)
    {
        var supervisor = new ReplicaSupervisor(fleet, options);
        supervisor.Write($"supervising {string.Join(", ", fleet.Shops.Select(shop => shop.Name))}: GET {options.Path} every {options.Period.TotalSeconds:0.#} s, "
            + $"timeout {options.Timeout.TotalSeconds:0.#} s, restart after {options.FailureThreshold} failures in a row");
        supervisor._loop = Task.Run(() => supervisor.RunAsync(supervisor._stop.Token));
        return supervisor;
    }

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        // As a kubelet's probe worker per container: each replica is probed every period, one probe at
        // a time, so a replica whose probe takes its whole timeout never delays another's. A tick that
        // comes while the replica's probe still runs is kept (as Go's ticker keeps one), and the next
        // probe starts as soon as that one ends: a probe that times out costs one period, not two.
        using var timer = new PeriodicTimer(_options.Period);
        while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
        {
            foreach (var name in _fleet.Shops.Select(shop => shop.Name).ToList())
            {
                lock (_probing)
                {
                    if (_probing.ContainsKey(name))
                    {
                        _tickPending.Add(name);
                    }
                    else
                    {
                        _probing[name] = Task.Run(() => ProbeWhileTicksPendingAsync(name, cancellationToken), CancellationToken.None);
                    }
                }
            }
        }
    }

    private async Task ProbeWhileTicksPendingAsync(string name, CancellationToken cancellationToken)
    {
        while (true)
        {
            if (_fleet.Shops.ToList().FirstOrDefault(shop => shop.Name == name) is { } shop)
            {
                await ProbeOrLogAsync(shop, cancellationToken);
            }

            lock (_probing)
            {
                if (!_tickPending.Remove(name) || cancellationToken.IsCancellationRequested)
                {
                    _probing.Remove(name);
                    return;
                }
            }
        }
    }

    private async Task ProbeOrLogAsync(ServiceProcess shop, CancellationToken cancellationToken)
    {
        try
        {
            await ProbeAsync(shop, cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            Write($"{shop.Name}: the probe or restart failed: {ex.GetType().Name}: {ex.Message}");
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
    }

    private async Task ProbeAsync(ServiceProcess shop, CancellationToken cancellationToken)
    {
        var now = DateTimeOffset.UtcNow;
        State state;
        lock (_states)
        {
            if (!_states.TryGetValue(shop.Name, out state!))
            {
                _states[shop.Name] = state = new State(now) { SeenLive = true };
            }
        }

        var failure = shop.HasExited ? "the process exited" : await ProbeFailureAsync(shop, cancellationToken);
        if (failure is null)
        {
            (state.SeenLive, state.Failures, state.Backoff) = (true, 0, TimeSpan.Zero);
            return;
        }

        if (!shop.HasExited && !state.SeenLive && now - state.Started < _options.StartupGrace)
        {
            return;
        }

        state.Failures++;
        if ((state.Failures < _options.FailureThreshold && !shop.HasExited) || now < state.NotBefore)
        {
            Write($"{shop.Name} liveness failed ({state.Failures}/{_options.FailureThreshold}): {failure}");
            return;
        }

        state.Restarts++;
        lock (_states)
        {
            _restartLog.Add((shop.Name, DateTimeOffset.UtcNow));
        }

        Write($"{shop.Name} liveness failed ({state.Failures}/{_options.FailureThreshold}): {failure} -> restarting it (restart {state.Restarts})");
        await _fleet.RestartReplicaAsync(shop.Name);
        state.Backoff = state.Backoff == TimeSpan.Zero ? _options.InitialBackoff : TimeSpan.FromTicks(Math.Min(state.Backoff.Ticks * 2, _options.MaxBackoff.Ticks));
        (state.Started, state.SeenLive, state.Failures, state.NotBefore) = (DateTimeOffset.UtcNow, false, 0, DateTimeOffset.UtcNow + state.Backoff);
    }

    /// <summary>Null when the probe passed; otherwise why it failed, in a few words.</summary>
    private async Task<string?> ProbeFailureAsync(ServiceProcess shop, CancellationToken cancellationToken)
    {
        try
        {
            using var response = await _http.GetAsync(new Uri(shop.Address, _options.Path), cancellationToken);
            if (response.StatusCode == HttpStatusCode.OK)
            {
                return null;
            }

            var body = await response.Content.ReadAsStringAsync(cancellationToken);
            return $"{(int)response.StatusCode} {body[..Math.Min(body.Length, 200)]}";
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return $"no answer within {_options.Timeout.TotalSeconds:0.#} s";
        }
        catch (HttpRequestException ex)
        {
            return ex.Message;
        }
    }

    private void Write(string line)
    {
        lock (_log)
        {
            _log.WriteLine($"{DateTimeOffset.UtcNow.ToString("HH:mm:ss.fff", CultureInfo.InvariantCulture)} {line}");
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try
        {
            await _loop;
        }
        catch (OperationCanceledException)
        {
            // Stopped, as asked.
        }

        List<Task> probing;
        lock (_probing)
        {
            probing = [.. _probing.Values];
        }

        // Each ends once its probe does (cancellation included); none throws.
        await Task.WhenAll(probing);

        _http.Dispose();
        lock (_log)
        {
            _log.Dispose();
        }

        _stop.Dispose();
    }
}
