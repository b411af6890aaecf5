namespace Firedrill.Lab.Load;

/// <summary>Where a run is, reported about once a second (and once at the end).</summary>
public sealed record LoadProgress(TimeSpan Elapsed, long Completed, long Errors);

/// <summary>
/// One run's measurements. <paramref name="Elapsed"/> is the time load was offered (the open
/// model's schedule, or until the closed model's users stopped), not the wait for stragglers
/// afterwards, so <c>Total.Rps(Elapsed)</c> is the achieved request rate. The timeline
/// starts at second 0 on every run.
/// </summary>
public sealed record LoadResult(
    TimeSpan Elapsed,
    long Requests,
    EndpointStats Total,
    IReadOnlyDictionary<string, EndpointStats> Endpoints,
    IReadOnlyList<SecondStats> Timeline)
{
    public double Rps => Total.Rps(Elapsed);
}

/// <summary>
/// Latency (ms, from the intended send time in the open model) and outcomes of one endpoint or
/// of all. Outcome keys: the status code as text ("200", "503"), "timeout", the exception's
/// type name ("HttpRequestException"), or "dropped". Dropped requests were never sent, so they
/// count as requests and errors but have no latency.
/// </summary>
public sealed record EndpointStats(
    long Requests,
    long Errors,
    double P50Ms,
    double P95Ms,
    double P99Ms,
    double MaxMs,
    IReadOnlyDictionary<string, long> Outcomes)
{
    public double ErrorRate => Requests == 0 ? 0 : (double)Errors / Requests;

    public double Rps(TimeSpan elapsed) => elapsed <= TimeSpan.Zero ? 0 : Requests / elapsed.TotalSeconds;
}

/// <summary>One second of a run; a request belongs to the second in which it was (meant to be) sent.</summary>
public sealed record SecondStats(
    int Second,
    long Requests,
    long Errors,
    double P50Ms,
    double P99Ms,
    IReadOnlyDictionary<string, EndpointSecond> Endpoints)
{
    public double ErrorRate => Requests == 0 ? 0 : (double)Errors / Requests;
}

/// <summary>One endpoint in one second.</summary>
public sealed record EndpointSecond(long Requests, long Errors, double P50Ms, double P99Ms)
{
    public double ErrorRate => Requests == 0 ? 0 : (double)Errors / Requests;
}

/// <summary>The outcome keys that are not status codes.</summary>
public static class LoadOutcomes
{
    public const string Timeout = "timeout";
    public const string Dropped = "dropped";
}
