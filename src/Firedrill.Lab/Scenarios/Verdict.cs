namespace Firedrill.Lab.Scenarios;

public static class Verdict
{
    /// <summary>
    /// The contract's verdict: the fault must show (every baseline and broken check passes) before
    /// the fix can count (every fixed check passes). No checks at all is an error, not a pass.
    /// </summary>
    public static string From(IReadOnlyList<CheckResult> checks)
    {
        if (checks.Count == 0)
        {
            return Verdicts.Error;
        }

        if (checks.Any(check => check.Phase != Phases.Fixed && !check.Pass))
        {
            return Verdicts.NotReproduced;
        }

        return checks.Any(check => check.Phase == Phases.Fixed && !check.Pass) ? Verdicts.NotFixed : Verdicts.ReproducedAndFixed;
    }

    public static CheckResult AtLeast(string name, string phase, double value, double minimum) =>
        new(name, phase, $">= {Format(minimum)}", Round(value), value >= minimum);

    public static CheckResult AtMost(string name, string phase, double value, double maximum) =>
        new(name, phase, $"<= {Format(maximum)}", Round(value), value <= maximum);

    public static CheckResult Above(string name, string phase, double value, double bound) =>
        new(name, phase, $"> {Format(bound)}", Round(value), value > bound);

    public static CheckResult EqualTo(string name, string phase, double value, double expected) =>
        new(name, phase, $"= {Format(expected)}", Round(value), Math.Abs(value - expected) < 1e-9);

    /// <summary>
    /// The most a fixed phase's latency may be: twice the baseline's, and never under a floor, so
    /// a baseline of a few milliseconds does not fail the fix over a GC pause or a busy neighbour
    /// (the floor stays far under the seconds a broken phase shows).
    /// </summary>
    public static double WithinTwiceBaselineMs(double baselineMs, double floorMs = 100) => Math.Round(Math.Max(2 * baselineMs, floorMs), 1);

    private static double Round(double value) => Math.Round(value, 3);

    private static string Format(double value) => Math.Round(value, 3).ToString(System.Globalization.CultureInfo.InvariantCulture);
}
