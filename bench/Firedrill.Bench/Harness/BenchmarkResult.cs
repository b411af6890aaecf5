namespace Firedrill.Bench.Harness;

/// <summary>
/// A number a benchmark is judged by and its goal: at least <see cref="Low"/>, at most
/// <see cref="High"/>, or both (a band). Without either it is reported, not judged.
/// </summary>
public sealed record Ratio(string Name, Series Value, double? Low, double? High)
{
    public bool Met => (Low is null || Value.Median >= Low) && (High is null || Value.Median <= High);

    public bool Judged => Low is not null || High is not null;

    public string GoalText => (Low, High) switch
    {
        (null, null) => "–",
        ({ } low, null) => "≥ " + Series.Format(low),
        (null, { } high) => "≤ " + Series.Format(high),
        ({ } low, { } high) => $"{Series.Format(low)}–{Series.Format(high)}",
    };

    public string Verdict => !Judged ? "reported" : Met ? "met" : "missed";
}

/// <summary>What one benchmark measured: its ratios, the absolute numbers behind them, and where the time went.</summary>
public sealed class BenchmarkResult(string name, string title)
{
    public string Name { get; } = name;

    public string Title { get; } = title;

    public List<Ratio> Ratios { get; } = [];

    /// <summary>Rows of the details table: quantity and its series.</summary>
    public List<(string Quantity, Series Value)> Measurements { get; } = [];

    /// <summary>Markdown paragraphs: CPU split, what limits the number, what would raise it.</summary>
    public List<string> Notes { get; } = [];

    public Series Measure(string quantity, string unit)
    {
        var existing = Measurements.FirstOrDefault(m => m.Quantity == quantity);
        if (existing.Value is not null)
        {
            return existing.Value;
        }

        var series = new Series(unit);
        Measurements.Add((quantity, series));
        return series;
    }

    public Ratio AddRatio(string name, Series value, double? low = null, double? high = null)
    {
        var ratio = new Ratio(name, value, low, high);
        Ratios.Add(ratio);
        return ratio;
    }
}
