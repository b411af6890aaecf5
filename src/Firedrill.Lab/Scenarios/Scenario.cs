using Firedrill.Lab.Fleet;
using Firedrill.Lab.Load;
using Firedrill.Lab.Prometheus;

namespace Firedrill.Lab.Scenarios;

/// <summary>
/// One incident (DESIGN.md, "Scenario contract"): its runbook, the fleet it needs, how to put
/// each phase's faults and fixes in place, how to drive load, and how to judge the phases.
/// The runner takes it through baseline → broken → fixed on one fleet.
/// </summary>
public abstract class Scenario
{
    /// <summary>The kebab-case id of SCENARIOS.md.</summary>
    public abstract string Id { get; }

    public abstract string Title { get; }

    /// <summary>The incident's variants (SCENARIOS.md), the default first.</summary>
    public abstract IReadOnlyList<ScenarioVariant> Variants { get; }

    /// <summary>The variant this instance runs; the default until <see cref="Select"/> picks another.</summary>
    public ScenarioVariant Variant => _variant ??= Variants[0];

    /// <summary>The runbook of the variant that runs: symptom → first checks → root cause → fix.</summary>
    public abstract Runbook Runbook { get; }

    /// <summary>The signal charted beside latency: a name and the PromQL that reads it over time.</summary>
    public virtual SignalQuery? KeySignal => null;

    /// <summary>More series for the key signal's chart (same axis), e.g. the harm beside the throughput.</summary>
    public virtual IReadOnlyList<SignalQuery> ChartSignals => [];

    private ScenarioVariant? _variant;

    /// <summary>Picks a variant by name; an unknown name is an <see cref="ArgumentException"/> listing the valid ones.</summary>
    public Scenario Select(string? variant)
    {
        if (variant is null)
        {
            return this;
        }

        _variant = Variants.FirstOrDefault(v => v.Name == variant)
            ?? throw new ArgumentException($"{Id} has no variant '{variant}'; its variants are {string.Join(", ", Variants.Select(v => v.Name))}");
        return this;
    }

    /// <summary>The fleet this scenario runs on, starting from the lab's defaults.</summary>
    public virtual FleetOptions Fleet(FleetOptions defaults) => defaults;

    /// <summary>
    /// Before the fleet starts: what it must start from (a template database to copy, say),
    /// reported through <paramref name="progress"/> when it takes long.
    /// </summary>
    public virtual Task<FleetOptions> PrepareAsync(FleetOptions options, IProgress<string> progress, CancellationToken cancellationToken) =>
        Task.FromResult(options);

    /// <summary>Once, before the baseline: data the phases need (orders to pay, say).</summary>
    public virtual Task SetupAsync(ScenarioContext context, CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>
    /// Before the baseline, unmeasured: traffic over the common paths so JIT compilation, cold
    /// caches and new connection pools don't pass for the baseline's latency.
    /// </summary>
    public virtual async Task WarmUpAsync(ScenarioContext context, CancellationToken cancellationToken)
    {
        using var client = context.GatewayClient(TimeSpan.FromSeconds(10));
        await new LoadGenerator(client, context.Time).RunAsync(new LoadProfile
        {
            Model = LoadModel.Open,
            RatePerSecond = 50,
            Duration = context.Duration(TimeSpan.FromSeconds(8), TimeSpan.FromSeconds(5)),
            RequestTimeout = TimeSpan.FromSeconds(10),
            Mix =
            [
                new RequestTemplate("catalog", 3, sequence => new HttpRequestMessage(HttpMethod.Get, $"/api/products/{1 + sequence % 1000}")),
                new RequestTemplate("availability", 1, sequence => new HttpRequestMessage(HttpMethod.Get, $"/api/products/{1 + sequence % 1000}/availability")),
            ],
        }, progress: null, cancellationToken);
    }

    /// <summary>Switches faults and fixes for <paramref name="phase"/> through the services' control endpoints.</summary>
    public abstract Task ApplyAsync(ScenarioContext context, string phase, CancellationToken cancellationToken);

    /// <summary>Drives the phase's load and measures it: client-side latency and errors plus named signals.</summary>
    public abstract Task<PhaseRun> DriveAsync(ScenarioContext context, string phase, CancellationToken cancellationToken);

    /// <summary>The verdict's checks, each tied to the phase it judges.</summary>
    public abstract IReadOnlyList<CheckResult> Check(IReadOnlyDictionary<string, PhaseResult> phases);
}

/// <summary>What a phase measured: the load's own view (latency from the client) and the signals.</summary>
public sealed record PhaseRun(LoadResult Load, IReadOnlyDictionary<string, double> Signals);

/// <summary>
/// A scenario whose variants are records of <typeparamref name="TVariant"/>: its code reads the
/// chosen variant's fields (<see cref="Chosen"/>) where the variants differ.
/// </summary>
public abstract class Scenario<TVariant> : Scenario
    where TVariant : ScenarioVariant
{
    public sealed override IReadOnlyList<ScenarioVariant> Variants => TypedVariants;

    /// <summary>The variants, the default first.</summary>
    protected abstract IReadOnlyList<TVariant> TypedVariants { get; }

    protected TVariant Chosen => (TVariant)Variant;
}

/// <summary>Everything a scenario may use while it runs.</summary>
public sealed class ScenarioContext
{
    public required LabFleet Fleet { get; init; }

    public required PromQlClient Prometheus { get; init; }

    /// <summary>Short phases for tests and a first look (each scenario ≤ 40 s); thresholds keep their margins.</summary>
    public required bool Quick { get; init; }

    public required TimeProvider Time { get; init; }

    public IProgress<LoadProgress>? Progress { get; init; }

    /// <summary>Captures evidence (psql, curl, dotnet-stack...) into the report.</summary>
    public required EvidenceCapture Evidence { get; init; }

    /// <summary>State a scenario keeps between its phases (orders created in setup, say).</summary>
    public Dictionary<string, object> Items { get; } = [];

    /// <summary>What a scenario started beside the fleet (another replica, another database): disposed by the runner after the run, last first.</summary>
    public List<IAsyncDisposable> Resources { get; } = [];

    public TimeSpan Duration(TimeSpan normal, TimeSpan quick) => Quick ? quick : normal;

    /// <summary>
    /// Starts <paramref name="capture"/> after <paramref name="delay"/>, while the phase's load goes
    /// on (evidence of a broken phase must be taken while it is broken); await the task after the
    /// load. A capture that fails becomes evidence of its failure, never the scenario's error.
    /// </summary>
    public async Task CaptureDuringAsync(TimeSpan delay, Func<CancellationToken, Task> capture, CancellationToken cancellationToken)
    {
        await Task.Delay(delay, Time, cancellationToken);
        try
        {
            await capture(cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            Evidence.Add("capture failed", "-", "(the lab's own capture)", $"{ex.GetType().Name}: {ex.Message}");
        }
    }

    /// <summary>A client through the gateway (the production path): no retries, the timeout explicit.</summary>
    public HttpClient GatewayClient(TimeSpan timeout)
    {
        var client = LoadHttpClient.Create(Fleet.Gateway.Address);
        client.Timeout = timeout;
        return client;
    }
}
