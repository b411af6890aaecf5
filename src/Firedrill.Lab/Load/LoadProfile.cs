namespace Firedrill.Lab.Load;

/// <summary>How load is offered.</summary>
public enum LoadModel
{
    /// <summary>Constant arrival rate, independent of how fast the server answers: what real users do.</summary>
    Open,

    /// <summary>N virtual users, each sending, awaiting and sending again: throughput follows the server.</summary>
    Closed,
}

/// <summary>One kind of request in the mix; <see cref="Create"/> gets a sequence number (unique per run) so requests can carry unique keys.</summary>
/// <param name="Name">The endpoint's name in the results (unique in the mix).</param>
/// <param name="Weight">Relative share of the mix (&gt; 0).</param>
/// <param name="Create">Builds a fresh request; a relative URI is resolved against the generator's base address.</param>
public sealed record RequestTemplate(string Name, double Weight, Func<long, HttpRequestMessage> Create);

/// <summary>What to send, how fast, and for how long.</summary>
public sealed record LoadProfile
{
    public LoadModel Model { get; init; } = LoadModel.Open;

    /// <summary>Open model: the constant arrival rate.</summary>
    public double RatePerSecond { get; init; }

    /// <summary>Closed model: the number of virtual users, each sending, awaiting and sending again.</summary>
    public int Concurrency { get; init; } = 1;

    /// <summary>
    /// Closed model: each user sends its k-th request no sooner than k × this after the run began
    /// (a user on a timer: a dashboard polling, a page fetching its parts at once); null: at once.
    /// The users start together, so they send in step: waves of <see cref="Concurrency"/> requests
    /// at once, every <see cref="Pacing"/>, at most Concurrency ÷ Pacing a second.
    /// </summary>
    public TimeSpan? Pacing { get; init; }

    /// <summary>Sending stops when this has passed...</summary>
    public TimeSpan Duration { get; init; }

    /// <summary>...or when this many requests have been sent, whichever comes first.</summary>
    public long? MaxRequests { get; init; }

    /// <summary>Per-request timeout; a request that exceeds it counts as <c>timeout</c>. Never followed by a retry.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Open model safety cap: a send beyond it is counted as <c>dropped</c> (an error), not queued,
    /// so a dead server cannot make the lab pile up unbounded sockets and memory.
    /// </summary>
    public int MaxInFlight { get; init; } = 10_000;

    public required IReadOnlyList<RequestTemplate> Mix { get; init; }

    /// <summary>Which HTTP statuses count as errors; by default 5xx (a 404 is an answer, not a failure).</summary>
    public Func<int, bool> IsError { get; init; } = status => status >= 500;

    /// <summary>Seeds the choice of template per sequence number, so a run's mix is reproducible.</summary>
    public int Seed { get; init; }

    /// <summary>Throws an <see cref="ArgumentException"/> naming the first invalid field.</summary>
    internal void Validate()
    {
        const string Param = "profile";
        if (!Enum.IsDefined(Model))
        {
            throw new ArgumentException($"LoadProfile.Model must be Open or Closed (was {Model}).", Param);
        }

        if (Model == LoadModel.Open && !(RatePerSecond > 0 && double.IsFinite(RatePerSecond)))
        {
            throw new ArgumentException($"LoadProfile.RatePerSecond must be > 0 for the open model (was {RatePerSecond}).", Param);
        }

        if (Model == LoadModel.Closed && Concurrency < 1)
        {
            throw new ArgumentException($"LoadProfile.Concurrency must be >= 1 for the closed model (was {Concurrency}).", Param);
        }

        if (Pacing is { } pacing && (Model != LoadModel.Closed || pacing <= TimeSpan.Zero))
        {
            throw new ArgumentException($"LoadProfile.Pacing must be > 0 and only set for the closed model (was {pacing} with {Model}).", Param);
        }

        if (Duration <= TimeSpan.Zero)
        {
            throw new ArgumentException($"LoadProfile.Duration must be > 0 (was {Duration}).", Param);
        }

        if (MaxRequests is < 1)
        {
            throw new ArgumentException($"LoadProfile.MaxRequests must be >= 1 when set (was {MaxRequests}).", Param);
        }

        if (RequestTimeout <= TimeSpan.Zero || RequestTimeout == Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentException($"LoadProfile.RequestTimeout must be > 0 and finite (was {RequestTimeout}).", Param);
        }

        if (MaxInFlight < 1)
        {
            throw new ArgumentException($"LoadProfile.MaxInFlight must be >= 1 (was {MaxInFlight}).", Param);
        }

        if (IsError is null)
        {
            throw new ArgumentException("LoadProfile.IsError must not be null.", Param);
        }

        ValidateMix(Param);
    }

    private void ValidateMix(string param)
    {
        if (Mix is null || Mix.Count == 0)
        {
            throw new ArgumentException("LoadProfile.Mix must contain at least one request template.", param);
        }

        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var template in Mix)
        {
            if (template is null || string.IsNullOrWhiteSpace(template.Name) || template.Create is null)
            {
                throw new ArgumentException("LoadProfile.Mix: every template needs a Name and a Create function.", param);
            }

            if (!(template.Weight > 0 && double.IsFinite(template.Weight)))
            {
                throw new ArgumentException($"LoadProfile.Mix: the Weight of '{template.Name}' must be > 0 (was {template.Weight}).", param);
            }

            if (!names.Add(template.Name))
            {
                throw new ArgumentException($"LoadProfile.Mix: the Name '{template.Name}' appears twice; results are keyed by name.", param);
            }
        }
    }
}
