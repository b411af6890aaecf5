namespace Firedrill.Bench.Harness;

internal static class RatioSeries
{
    /// <summary>Run-by-run ratios of two series measured in alternation (run i of one against run i of the other).</summary>
    public static Series Of(Series numerator, Series denominator)
    {
        var ratio = new Series("");
        foreach (var (n, d) in numerator.Values.Zip(denominator.Values))
        {
            ratio.Add(d == 0 ? double.NaN : n / d);
        }

        return ratio;
    }
}
