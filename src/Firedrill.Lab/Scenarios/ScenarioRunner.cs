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
        try
        {
            var options = scenario.Fleet(fleetDefaults with { RunFolder = Path.Combine(fleetDefaults.RunFolder, scenario.Id) });
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
            };

            Report(scenario, "setup");
            await scenario.SetupAsync(context, cancellationToken);
            Report(scenario, "warm-up");
            await Task.WhenAll(scenario.WarmUpAsync(context, cancellationToken), WaitForScrapesAsync(context, fleet.All.Count(), cancellationToken));
            var runStart = time.GetUtcNow();
            var offset = 0.0;
            var runs = new List<(string Phase, PhaseRun Run, double Offset)>();
            foreach (var phase in Phases.All)
            {
                Report(scenario, phase);
                await scenario.ApplyAsync(context, phase, cancellationToken);
                var run = await scenario.DriveAsync(context, phase, cancellationToken);
                phases[phase] = PhaseSummary.ToPhaseResult(run);
                runs.Add((phase, run, offset));
                offset += Math.Ceiling(run.Load.Elapsed.TotalSeconds);
            }

            var keySignal = await KeySignalAsync(scenario, context, runStart, cancellationToken);
            foreach (var (phase, run, start) in runs)
            {
                timeline.AddRange(PhaseSummary.ToTimeline(run, phase, start, keySignal, scenario.KeySignal?.Name));
            }

            var checks = scenario.Check(phases);
            return Build(scenario, Verdict.From(checks), phases, checks, timeline, error: null);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            return Build(scenario, Verdicts.Error, phases, [], timeline, ex.Message);
        }
    }

    /// <summary>Prometheus picks up new targets in batches of about 5 s; signals need every service scraped first.</summary>
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

    /// <summary>The key signal over the whole run, one value per second since the baseline began.</summary>
    private async Task<IReadOnlyDictionary<double, double>?> KeySignalAsync(Scenario scenario, ScenarioContext context, DateTimeOffset runStart, CancellationToken cancellationToken)
    {
        if (scenario.KeySignal is not { } signal)
        {
            return null;
        }

        var points = await context.Prometheus.QueryRangeAsync(signal.PromQl, runStart, time.GetUtcNow(), TimeSpan.FromSeconds(1), cancellationToken);
        return points.GroupBy(point => Math.Floor((point.At - runStart).TotalSeconds))
            .ToDictionary(group => group.Key, group => Math.Round(group.Last().Value, 3));
    }

    private void Report(Scenario scenario, string step) => Progress?.Invoke(scenario.Id, step, null);

    private static ScenarioReport Build(Scenario scenario, string verdict, Dictionary<string, PhaseResult> phases, IReadOnlyList<CheckResult> checks,
        List<TimelinePoint> timeline, string? error) =>
        new()
        {
            Scenario = scenario.Id,
            Title = scenario.Title,
            Verdict = verdict,
            Phases = phases,
            Checks = checks,
            Runbook = scenario.Runbook,
            Timeline = timeline,
            KeySignal = scenario.KeySignal?.Name,
            Error = error,
        };
}
