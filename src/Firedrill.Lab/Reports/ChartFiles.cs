namespace Firedrill.Lab.Reports;

/// <summary>The charts written for one scenario, relative to the report's folder (as report.md links them); null when not written.</summary>
internal sealed record ChartFiles(string? Latency, string? Signal)
{
    public static readonly ChartFiles None = new(null, null);

    public IEnumerable<string> All => new[] { Latency, Signal }.OfType<string>();
}
