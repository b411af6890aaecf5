using Firedrill.Lab.Fleet;
using Firedrill.Lab.Load;
using Firedrill.Lab.Prometheus;

namespace Firedrill.Lab.Scenarios;

/// <summary>
/// Runs one scenario end to end: its own fleet and Prometheus, setup, then baseline → broken →
/// fixed on that fleet, then the checks and the verdict. Any failure of the machinery is an
/// <c>error</c> verdict with the reason, never a crash of the whole run.
/// </summary>
public sealed class ScenarioRunner(FleetOptions fleetDefaults, bool quick, TimeProvider time)
{
    /// <summary>Reports what the runner is doing: the phase and, during load, its progress.</summary>
    public event Action<string, string, LoadProgress?>? Progress;

    public async Task<ScenarioReport> RunAsync(Scenario scenario, CancellationToken cancellationToken)
    {
        var phases = new Dictionary<string, PhaseResult>();
        var timeline = new List<TimelinePoint>();
        var values = new Dictionary<string, Dictionary<string, double?>>();
        EvidenceCapture? evidence = null;
        try
        {
            var options = scenario.Fleet(fleetDefaults with { RunFolder = Path.Combine(fleetDefaults.RunFolder, scenario.Id) });
            options = await scenario.PrepareAsync(options, new Progress<string>(step => Report(scenario, step)), cancellationToken);
            Report(scenario, "starting the fleet");
            await using var fleet = await LabFleet.StartAsync(options, new Progress<string>(step => Report(scenario, $"starting {step}")), cancellationToken);
            await using var prometheus = await PrometheusServer.StartAsync(options.RunFolder, fleet.ScrapeTargets(), cancellationToken);
            fleet.Changed += (changed, token) => prometheus.UpdateTargetsAsync(changed.ScrapeTargets(), token);
            using var promHttp = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
            var context = new ScenarioContext
            {
                Fleet = fleet,
                Prometheus = new PromQlClient(promHttp, prometheus.Address),
                Quick = quick,
                Time = time,
                Progress = new Progress<LoadProgress>(progress => Progress?.Invoke(scenario.Id, "load", progress)),
                Evidence = new EvidenceCapture(fleet.DatabaseConnection, options.RunFolder),
            };
            evidence = context.Evidence;
            await using var resources = new Resources(context.Resources);

            Report(scenario, "setup");
            await scenario.SetupAsync(context, cancellationToken);
            Report(scenario, "warm-up");
            await Task.WhenAll(scenario.WarmUpAsync(context, cancellationToken), WaitForScrapesAsync(context, fleet.ScrapeTargets().Count, cancellationToken));
            var runStart = time.GetUtcNow();
            var runs = new List<(string Phase, PhaseRun Run, double Offset)>();
            foreach (var phase in Phases.All)
            {
                Report(scenario, phase);
                await scenario.ApplyAsync(context, phase, cancellationToken);
                // Each phase is placed on the chart where it ran on the wall clock, the clock the
                // Prometheus series are read on: switching the fix in, draining stragglers or
                // capturing evidence between phases shows as a gap instead of shifting the phases
                // out of line with the signals.
                var offset = Math.Floor((time.GetUtcNow() - runStart).TotalSeconds);
                var run = await scenario.DriveAsync(context, phase, cancellationToken);
                run = await AtPhaseEndAsync(scenario, context, phase, run, values, cancellationToken);
                phases[phase] = PhaseSummary.ToPhaseResult(run);
                runs.Add((phase, run, offset));
            }

            var series = await ChartSeriesAsync(scenario, context, runStart, cancellationToken);
            foreach (var (phase, run, start) in runs)
            {
                timeline.AddRange(PhaseSummary.ToTimeline(run, phase, start, series));
            }

            var checks = scenario.Check(phases);
            return Build(scenario, Verdict.From(checks), phases, checks, timeline, values, evidence, error: null);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            return Build(scenario, Verdicts.Error, phases, [], timeline, values, evidence, ex.Message);
        }
    }

    /// <summary>
    /// The end of a phase: every runbook first check's value (null when the query matches nothing
    /// or fails, so a dead query shows in the report), and the key signal's value as a phase
    /// signal unless the scenario measured it itself.
    /// </summary>
    private static async Task<PhaseRun> AtPhaseEndAsync(Scenario scenario, ScenarioContext context, string phase, PhaseRun run,
        Dictionary<string, Dictionary<string, double?>> values, CancellationToken cancellationToken)
    {
        foreach (var check in scenario.Runbook.FirstChecks)
        {
            if (!values.TryGetValue(check.Name, out var byPhase))
            {
                values[check.Name] = byPhase = [];
            }

            byPhase[phase] = await TryQueryAsync(context, check.PromQl, cancellationToken);
        }

        if (scenario.KeySignal is not { } key || run.Signals.ContainsKey(key.Name)
            || await TryQueryAsync(context, key.PromQl, cancellationToken) is not { } value)
        {
            return run;
        }

        return run with { Signals = new Dictionary<string, double>(run.Signals) { [key.Name] = Math.Round(value, 3) } };
    }

    private static async Task<double?> TryQueryAsync(ScenarioContext context, string promql, CancellationToken cancellationToken)
    {
        try
        {
            return await context.Prometheus.QueryScalarAsync(promql, null, cancellationToken) is { } value ? Math.Round(value, 4) : null;
        }
        catch (Exception ex) when (ex is PromQlException or HttpRequestException)
        {
            return null;
        }
    }

    /// <summary>Prometheus picks up new targets in batches of about 5 s; signals need every target scraped first.</summary>
    private async Task WaitForScrapesAsync(ScenarioContext context, int services, CancellationToken cancellationToken)
    {
        var deadline = time.GetUtcNow() + TimeSpan.FromSeconds(30);
        while (await context.Prometheus.QueryScalarAsync("count(up == 1)", null, cancellationToken) is not { } up || up < services)
        {
            if (time.GetUtcNow() > deadline)
            {
                throw new TimeoutException($"Prometheus did not scrape all {services} services within 30 s; see its log in the run folder.");
            }

            await Task.Delay(TimeSpan.FromMilliseconds(500), time, cancellationToken);
        }
    }

    /// <summary>The key signal and the scenario's other chart signals over the whole run, one value per second since the baseline began.</summary>
    private async Task<IReadOnlyDictionary<string, IReadOnlyDictionary<double, double>>> ChartSeriesAsync(
        Scenario scenario, ScenarioContext context, DateTimeOffset runStart, CancellationToken cancellationToken)
    {
        var series = new Dictionary<string, IReadOnlyDictionary<double, double>>();
        foreach (var signal in new[] { scenario.KeySignal }.OfType<SignalQuery>().Concat(scenario.ChartSignals))
        {
            var points = await context.Prometheus.QueryRangeAsync(signal.PromQl, runStart, time.GetUtcNow(), TimeSpan.FromSeconds(1), cancellationToken);
            series[signal.Name] = points.GroupBy(point => Math.Floor((point.At - runStart).TotalSeconds))
                .ToDictionary(group => group.Key, group => Math.Round(group.Last().Value, 3));
        }

        return series;
    }

    private void Report(Scenario scenario, string step) => Progress?.Invoke(scenario.Id, step, null);

    /// <summary>Disposes what a scenario started beside the fleet, last first, before the fleet itself goes.</summary>
    private sealed class Resources(List<IAsyncDisposable> resources) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            for (var i = resources.Count - 1; i >= 0; i--)
            {
                await resources[i].DisposeAsync();
            }
        }
    }

    private static ScenarioReport Build(Scenario scenario, string verdict, Dictionary<string, PhaseResult> phases, IReadOnlyList<CheckResult> checks,
        List<TimelinePoint> timeline, Dictionary<string, Dictionary<string, double?>> values, EvidenceCapture? evidence, string? error)
    {
        var runbook = scenario.Runbook;
        return new()
        {
            Scenario = scenario.Id,
            Title = scenario.Title,
            Variant = scenario.Variant.Name,
            Verdict = verdict,
            Phases = phases,
            Checks = checks,
            Runbook = runbook with
            {
                FirstChecks = runbook.FirstChecks.Select(check => check with
                {
                    Values = Phases.All.ToDictionary(phase => phase, phase => values.GetValueOrDefault(check.Name)?.GetValueOrDefault(phase)),
                }).ToList(),
            },
            Evidence = evidence?.Items ?? [],
            Timeline = timeline,
            KeySignal = scenario.KeySignal?.Name,
            ChartSignals = scenario.ChartSignals.Select(signal => signal.Name).ToList(),
            Error = error,
        };
    }
}
