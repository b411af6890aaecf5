using Firedrill.Lab.Fleet;
using Firedrill.Lab.Load;
using Firedrill.Lab.Prometheus;

namespace Firedrill.Lab.Scenarios;

/// <summary>
/// What a scenario (<see cref="ScenarioRunner"/>) and a fault (<see cref="Faults.FaultRunner"/>)
/// each run on: a fleet of its own, a Prometheus scraping it (following the fleet as replicas come
/// and go), and the context handed to the script. Disposed, Prometheus stops before the fleet.
/// </summary>
internal sealed class LabSession : IAsyncDisposable
{
    private readonly LabFleet _fleet;
    private readonly PrometheusServer _prometheus;
    private readonly HttpClient _promHttp = new() { Timeout = TimeSpan.FromSeconds(10) };

    private LabSession(LabFleet fleet, PrometheusServer prometheus, bool quick, TimeProvider time, IProgress<LoadProgress>? load, string runFolder)
    {
        (_fleet, _prometheus) = (fleet, prometheus);
        Context = new ScenarioContext
        {
            Fleet = fleet,
            Prometheus = new PromQlClient(_promHttp, prometheus.Address),
            Quick = quick,
            Time = time,
            Progress = load,
            Evidence = new EvidenceCapture(fleet.DatabaseConnection, runFolder),
        };
    }

    public ScenarioContext Context { get; }

    /// <param name="starting">Each step of the fleet's start, as it begins.</param>
    /// <param name="load">The load's progress, for a caller that shows it.</param>
    public static async Task<LabSession> StartAsync(FleetOptions options, bool quick, TimeProvider time, IProgress<string> starting,
        IProgress<LoadProgress>? load, CancellationToken cancellationToken)
    {
        var fleet = await LabFleet.StartAsync(options, starting, cancellationToken);
        PrometheusServer prometheus;
        try
        {
            prometheus = await PrometheusServer.StartAsync(options.RunFolder, fleet.ScrapeTargets(), cancellationToken);
        }
        catch
        {
            await fleet.DisposeAsync();
            throw;
        }

        fleet.Changed += (changed, token) => prometheus.UpdateTargetsAsync(changed.ScrapeTargets(), token);
        return new LabSession(fleet, prometheus, quick, time, load, options.RunFolder);
    }

    /// <summary>Prometheus picks up new targets in batches of about 5 s; signals need every target scraped first.</summary>
    public async Task WaitForScrapesAsync(CancellationToken cancellationToken)
    {
        var services = _fleet.ScrapeTargets().Count;
        var time = Context.Time;
        var deadline = time.GetUtcNow() + TimeSpan.FromSeconds(30);
        while (await Context.Prometheus.QueryScalarAsync("count(up == 1)", null, cancellationToken) is not { } up || up < services)
        {
            if (time.GetUtcNow() > deadline)
            {
                throw new TimeoutException($"Prometheus did not scrape all {services} services within 30 s; see its log in the run folder.");
            }

            await Task.Delay(TimeSpan.FromMilliseconds(500), time, cancellationToken);
        }
    }

    /// <summary>A PromQL series from <paramref name="start"/> to now, one value per second since then (keyed by that second).</summary>
    public async Task<IReadOnlyDictionary<double, double>> SeriesAsync(SignalQuery signal, DateTimeOffset start, CancellationToken cancellationToken)
    {
        var points = await Context.Prometheus.QueryRangeAsync(signal.PromQl, start, Context.Time.GetUtcNow(), TimeSpan.FromSeconds(1), cancellationToken);
        return points.GroupBy(point => Math.Floor((point.At - start).TotalSeconds))
            .ToDictionary(group => group.Key, group => Math.Round(group.Last().Value, 3));
    }

    public async ValueTask DisposeAsync()
    {
        _promHttp.Dispose();
        await _prometheus.DisposeAsync();
        await _fleet.DisposeAsync();
    }
}
