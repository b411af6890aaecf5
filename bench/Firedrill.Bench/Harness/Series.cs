using System.Globalization;

namespace Firedrill.Bench.Harness;

/// <summary>Repeated measurements of one quantity, quoted as median with min–max.</summary>
public sealed class Series(string unit)
{
    private readonly List<double> _values = [];

    public string Unit { get; } = unit;

    public IReadOnlyList<double> Values => _values;

    public void Add(double value) => _values.Add(value);

    public double Median => Quantile(_values, 0.5);

    public double Min => _values.Count == 0 ? double.NaN : _values.Min();

    public double Max => _values.Count == 0 ? double.NaN : _values.Max();

    public override string ToString() => $"{Format(Median)} ({Format(Min)}–{Format(Max)}) {Unit}".TrimEnd();

    /// <summary>Linear interpolation between closest ranks, as numpy's default.</summary>
    public static double Quantile(IReadOnlyList<double> values, double q)
    {
        if (values.Count == 0)
        {
            return double.NaN;
        }

        var sorted = values.Order().ToArray();
        var position = q * (sorted.Length - 1);
        var lower = (int)Math.Floor(position);
        var upper = (int)Math.Ceiling(position);
        return sorted[lower] + (sorted[upper] - sorted[lower]) * (position - lower);
    }

    /// <summary>Three significant figures at most, no exponent: 0.812, 12.3, 9,640.</summary>
    public static string Format(double value)
    {
        if (double.IsNaN(value))
        {
            return "–";
        }

        var magnitude = Math.Abs(value);
        var format = magnitude >= 1000 ? "#,0" : magnitude >= 100 ? "0" : magnitude >= 10 ? "0.#" : magnitude >= 1 ? "0.##" : "0.###";
        return value.ToString(format, CultureInfo.InvariantCulture);
    }
}
