namespace Firedrill.Lab.Scenarios;

/// <summary>
/// PromQL for "how much did this counter grow in the last window" that also counts series born
/// inside the window. <c>increase()</c> alone misses a series' first value — the first 431 a fresh
/// gateway ever answers creates its series at 1, and <c>increase</c> sees 1 → 1 — which on a
/// long-lived production fleet rarely matters, and on the lab's fresh fleet always does.
/// </summary>
internal static class CounterQueries
{
    /// <summary>Growth of the counters <paramref name="selector"/> selects over <paramref name="window"/> (e.g. <c>10s</c>), summed; 0 when none.</summary>
    public static string Increase(string selector, string window) =>
        $"((sum(increase({selector}[{window}]) and {selector} offset {window}) or vector(0)) + (sum({selector} unless {selector} offset {window}) or vector(0)))";

    /// <summary>The same growth per second.</summary>
    public static string Rate(string selector, int windowSeconds) =>
        $"({Increase(selector, $"{windowSeconds}s")} / {windowSeconds})";
}
