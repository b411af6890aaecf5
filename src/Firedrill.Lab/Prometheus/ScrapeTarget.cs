namespace Firedrill.Lab.Prometheus;

/// <summary>
/// One process Prometheus scrapes: <paramref name="Address"/> is <c>host:port</c> (its
/// <c>/metrics</c> is scraped); <paramref name="Job"/> becomes the <c>job</c> label and
/// <paramref name="Labels"/> are added to every series it exposes (e.g. <c>replica</c>).
/// </summary>
public sealed record ScrapeTarget(string Job, string Address, IReadOnlyDictionary<string, string> Labels);
