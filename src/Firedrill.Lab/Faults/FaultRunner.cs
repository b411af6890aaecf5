using System.Diagnostics;
using Firedrill.Lab.Fleet;
using Firedrill.Lab.Load;
using Firedrill.Lab.Prometheus;
using Firedrill.Lab.Scenarios;

namespace Firedrill.Lab.Faults;

/// <summary>
/// Runs one fault end to end on a fleet of its own (with its Prometheus, as <c>run</c> does):
/// warm-up, the fault's load, injection, end and settling, its audit, then the report. Any
/// failure of the machinery is a failed fault with the reason, never a crash of the whole suite.
/// </summary>
public sealed class FaultRunner(FleetOptions fleetDefaults, bool quick, TimeProvider time)
{
    /// <summary>Reports what the runner is doing.</summary>
    public event Action<string, string>? Progress;

    public async Task<FaultReport> RunAsync(Fault fault, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        EvidenceCapture? evidence = null;
        try
        {
            var options = fault.Fleet(fleetDefaults with { RunFolder = Path.Combine(fleetDefaults.RunFolder, fault.Id) });
            Report(fault, "starting the fleet");
            await using var fleet = await LabFleet.StartAsync(options, new Progress<string>(step => Report(fault, $"starting {step}")), cancellationToken);
            await using var prometheus = await PrometheusServer.StartAsync(options.RunFolder, fleet.ScrapeTargets(), cancellationToken);
            fleet.Changed += (changed, token) => prometheus.UpdateTargetsAsync(changed.ScrapeTargets(), token);
            using var promHttp = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
            var context = new ScenarioContext
            {
                Fleet = fleet,
                Prometheus = new PromQlClient(promHttp, prometheus.Address),
                Quick = quick,
                Time = time,
                Evidence = new EvidenceCapture(fleet.DatabaseConnection, options.RunFolder),
            };
            evidence = context.Evidence;

            Report(fault, "warm-up");
            await Task.WhenAll(WarmUpAsync(context, cancellationToken), WaitForScrapesAsync(context, fleet.ScrapeTargets().Count, cancellationToken));
            Report(fault, "load, fault, settle, audit");
            var outcome = await fault.RunAsync(context, cancellationToken);
            var queried = await ChartSeriesAsync(fault, context, outcome.Clock.StartedAt, cancellationToken);
            return Build(fault, outcome, queried, evidence, Stopwatch.GetElapsedTime(started));
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            return new FaultReport
            {
                Fault = fault.Id,
                Number = fault.Number,
                Title = fault.Title,
                Passed = false,
                Promise = fault.Promise,
                Injected = fault.Injects,
                Audit = fault.Audits,
                Recovery = fault.Recovery,
                Evidence = evidence?.Items ?? [],
                Seconds = Math.Round(Stopwatch.GetElapsedTime(started).TotalSeconds, 1),
                Error = $"{ex.GetType().Name}: {ex.Message}",
            };
        }
    }

    private static FaultReport Build(Fault fault, FaultOutcome outcome, IReadOnlyDictionary<string, IReadOnlyDictionary<double, double>> queried,
        EvidenceCapture evidence, TimeSpan elapsed)
    {
        var load = outcome.Load;
        var during = outcome.Clock.Tally(load, FaultClock.IsDuring);
        var after = outcome.Clock.Tally(load, stage => stage == FaultClock.After);
        var timeline = outcome.Clock.Timeline(load, queried);
        return new FaultReport
        {
            Fault = fault.Id,
            Number = fault.Number,
            Title = fault.Title,
            Passed = outcome.Checks.Count > 0 && outcome.Checks.All(check => check.Pass),
            Requests = load.Total.Requests,
            ErrorRate = Math.Round(load.Total.ErrorRate, 4),
            ErrorRateDuring = Rate(during),
            ErrorRateAfter = Rate(after),
            Audited = outcome.Audited,
            Lost = outcome.Lost,
            Duplicated = outcome.Duplicated,
            RecoverySeconds = outcome.RecoverySeconds is { } recovery ? Math.Round(recovery, 2) : null,
            Details = outcome.Figures,
            Summary = outcome.Summary,
            Promise = fault.Promise,
            Injected = fault.Injects,
            Audit = fault.Audits,
            Recovery = fault.Recovery,
            Checks = outcome.Checks,
            Evidence = evidence.Items,
            Timeline = timeline,
            Signals = [.. outcome.Clock.Samples.Keys.OrderBy(name => name == outcome.Clock.KeySignal ? 0 : 1), .. queried.Keys],
            Outcomes = load.Total.Outcomes,
            Seconds = Math.Round(elapsed.TotalSeconds, 1),
        };

        static double Rate((long Requests, long Errors) tally) => tally.Requests == 0 ? 0 : Math.Round((double)tally.Errors / tally.Requests, 4);
    }

    /// <summary>Unmeasured traffic first, so JIT compilation and cold pools don't count against the fault.</summary>
    private async Task WarmUpAsync(ScenarioContext context, CancellationToken cancellationToken)
    {
        using var client = context.GatewayClient(TimeSpan.FromSeconds(10));
        await new LoadGenerator(client, time).RunAsync(new LoadProfile
        {
            Model = LoadModel.Open,
            RatePerSecond = 40,
            Duration = context.Duration(TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(3)),
            RequestTimeout = TimeSpan.FromSeconds(10),
            Mix =
            [
                new RequestTemplate("catalog", 3, sequence => new HttpRequestMessage(HttpMethod.Get, $"/api/products/{1 + sequence % 1000}")),
                new RequestTemplate("availability", 1, sequence => new HttpRequestMessage(HttpMethod.Get, $"/api/products/{1 + sequence % 1000}/availability")),
            ],
        }, progress: null, cancellationToken);
    }

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

    /// <summary>The fault's PromQL series over its run, one value per second since its load began.</summary>
    private async Task<IReadOnlyDictionary<string, IReadOnlyDictionary<double, double>>> ChartSeriesAsync(
        Fault fault, ScenarioContext context, DateTimeOffset start, CancellationToken cancellationToken)
    {
        var series = new Dictionary<string, IReadOnlyDictionary<double, double>>(StringComparer.Ordinal);
        foreach (var signal in new[] { fault.KeySignal }.OfType<SignalQuery>().Concat(fault.ChartSignals))
        {
            try
            {
                var points = await context.Prometheus.QueryRangeAsync(signal.PromQl, start, time.GetUtcNow(), TimeSpan.FromSeconds(1), cancellationToken);
                series[signal.Name] = points.GroupBy(point => Math.Floor((point.At - start).TotalSeconds))
                    .ToDictionary(group => group.Key, group => Math.Round(group.Last().Value, 3));
            }
            catch (Exception ex) when (ex is PromQlException or HttpRequestException)
            {
                // A chart line missing, not a fault failing: the audit never reads Prometheus.
            }
        }

        return series;
    }

    private void Report(Fault fault, string step) => Progress?.Invoke(fault.Id, step);
}
