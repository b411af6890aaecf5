using System.Globalization;
using Firedrill.Lab.Prometheus;

namespace Firedrill.Lab.Fleet;

/// <summary>
/// The Kubernetes HorizontalPodAutoscaler's settings, on CPU as most teams first configure it, with
/// the periods scaled down from minutes to the lab's seconds (sync 15 s → 2 s, scale-down
/// stabilization 300 s → 30 s).
/// </summary>
public sealed record AutoscalerOptions
{
    public int MinReplicas { get; init; } = 1;

    public int MaxReplicas { get; init; } = 3;

    /// <summary>Average CPU per replica as a fraction of its request (HPA <c>averageUtilization</c> / 100).</summary>
    public double TargetCpuUtilization { get; init; } = 0.5;

    /// <summary>What each replica "requests" (cores): utilization is CPU used divided by it.</summary>
    public double CpuRequestCores { get; init; } = 0.2;

    public TimeSpan SyncPeriod { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// The CPU rate's window (the metrics pipeline's averaging). The first sync comes one window
    /// into the autoscaler's life, so its first decision reads the load, not the quiet before it
    /// (a real HPA has been watching all along).
    /// </summary>
    public TimeSpan CpuWindow { get; init; } = TimeSpan.FromSeconds(5);

    public TimeSpan ScaleDownStabilization { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>No change while the ratio to the target is within this (HPA's default 0.1).</summary>
    public double Tolerance { get; init; } = 0.1;
}

/// <summary>One sync of the autoscaler: what it saw and what it decided.</summary>
public sealed record ScalingDecision(DateTimeOffset At, int Current, double CpuUtilization, int Desired);

/// <summary>Replicas a scale-up added, and when the gateway put them in rotation.</summary>
public sealed record ScaleUp(DateTimeOffset JoinedAt, IReadOnlyList<string> Replicas);

/// <summary>
/// The HPA algorithm over the fleet's shop replicas: every sync period,
/// <c>desired = ceil(current × utilization / target)</c> (unchanged within the tolerance), clamped
/// to [min, max]; a scale-down takes the highest recommendation of the stabilization window.
/// Utilization is each replica's CPU (<c>dotnet_process_cpu_time_seconds_total</c>, from
/// Prometheus) over its request, averaged. Every decision goes to <c>logs/autoscaler.log</c>.
/// </summary>
public sealed class HorizontalAutoscaler : IAsyncDisposable
{
    private readonly LabFleet _fleet;
    private readonly PromQlClient _prometheus;
    private readonly AutoscalerOptions _options;
    private readonly List<ScalingDecision> _decisions = [];
    private readonly List<(DateTimeOffset At, int Desired)> _recommendations = [];
    private readonly List<ScaleUp> _scaleUps = [];
    private readonly StreamWriter _log;
    private readonly CancellationTokenSource _stop = new();
    private Task _loop = Task.CompletedTask;

    private HorizontalAutoscaler(LabFleet fleet, PromQlClient prometheus, AutoscalerOptions options)
    {
        (_fleet, _prometheus, _options) = (fleet, prometheus, options);
        _log = new StreamWriter(Path.Combine(fleet.Logs, "autoscaler.log"), append: true) { AutoFlush = true };
    }

    public IReadOnlyList<ScalingDecision> Decisions
    {
        get
        {
            lock (_decisions)
            {
                return [.. _decisions];
            }
        }
    }

    public IReadOnlyList<ScaleUp> ScaleUps
    {
        get
        {
            lock (_decisions)
            {
                return [.. _scaleUps];
            }
        }
    }

    public static HorizontalAutoscaler Start(LabFleet fleet, PromQlClient prometheus, AutoscalerOptions options)
    {
        var autoscaler = new HorizontalAutoscaler(fleet, prometheus, options);
        autoscaler.Write($"HPA on CPU: target {options.TargetCpuUtilization:P0} of {options.CpuRequestCores} cores per replica, "
            + $"replicas {options.MinReplicas}..{options.MaxReplicas}, sync every {options.SyncPeriod.TotalSeconds:0.#} s, "
            + $"CPU over {options.CpuWindow.TotalSeconds:0.#} s, scale-down stabilization {options.ScaleDownStabilization.TotalSeconds:0} s");
        autoscaler._loop = Task.Run(() => autoscaler.RunAsync(autoscaler._stop.Token));
        return autoscaler;
    }

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        if (_options.CpuWindow > _options.SyncPeriod)
        {
            await Task.Delay(_options.CpuWindow - _options.SyncPeriod, cancellationToken).ConfigureAwait(false);
        }

        using var timer = new PeriodicTimer(_options.SyncPeriod);
        while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
        {
            try
            {
                await SyncAsync(cancellationToken);
            }
            catch (Exception ex) when (ex is PromQlException or HttpRequestException)
            {
                Write($"no metric this period ({ex.Message}); no change");
            }
        }
    }

    private async Task SyncAsync(CancellationToken cancellationToken)
    {
        var current = _fleet.Shops.Count;
        var query = string.Create(CultureInfo.InvariantCulture,
            $$"""avg(sum by (service) (rate(dotnet_process_cpu_time_seconds_total{job="shop"}[{{_options.CpuWindow.TotalSeconds:0}}s])))""");
        if (await _prometheus.QueryScalarAsync(query, null, cancellationToken) is not { } cores)
        {
            return;
        }

        var utilization = cores / _options.CpuRequestCores;
        var ratio = utilization / _options.TargetCpuUtilization;
        var desired = Math.Abs(ratio - 1) <= _options.Tolerance ? current : (int)Math.Ceiling(current * ratio);
        desired = Math.Clamp(desired, _options.MinReplicas, _options.MaxReplicas);
        var now = DateTimeOffset.UtcNow;
        _recommendations.Add((now, desired));
        _recommendations.RemoveAll(recommendation => now - recommendation.At > _options.ScaleDownStabilization);
        if (desired < current)
        {
            desired = Math.Min(current, _recommendations.Max(recommendation => recommendation.Desired));
        }

        lock (_decisions)
        {
            _decisions.Add(new ScalingDecision(now, current, Math.Round(utilization, 3), desired));
        }

        Write($"replicas {current}, CPU {cores:0.###} cores/replica = {utilization:P0} of request (target {_options.TargetCpuUtilization:P0}) "
            + $"-> desired ceil({current} x {ratio:0.##}) = {desired}{(desired == current ? " (no change)" : "")}");
        if (desired > current)
        {
            // Started together and put in rotation together once ready, as a Deployment's new pods.
            var added = await _fleet.AddReplicasAsync(desired - current, cancellationToken);
            var names = added.Select(replica => replica.Name).ToList();
            lock (_decisions)
            {
                _scaleUps.Add(new ScaleUp(DateTimeOffset.UtcNow, names));
            }

            Write($"added {string.Join(", ", names)}");
        }

        for (var replicas = current; replicas > desired; replicas--)
        {
            var newest = _fleet.Shops[^1].Name;
            await _fleet.RemoveReplicaAsync(newest, cancellationToken);
            Write($"removed {newest}");
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

        lock (_log)
        {
            _log.Dispose();
        }

        _stop.Dispose();
    }
}
