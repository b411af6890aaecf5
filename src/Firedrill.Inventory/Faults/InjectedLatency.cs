namespace Firedrill.Inventory.Faults;

/// <summary>How long one request is held, drawn from the configured distribution.</summary>
internal static class InjectedLatency
{
    /// <param name="options">The current knobs.</param>
    /// <param name="sample">A uniform random number in [0, 1).</param>
    public static TimeSpan Next(InventoryOptions options, double sample)
    {
        if (options.LatencyMs <= 0)
        {
            return TimeSpan.Zero;
        }

        // One uniform sample serves both draws: below the rate it is delayed, and the sample,
        // stretched back over [0, 1), picks the delay from the distribution.
        if (sample >= options.LatencyRate)
        {
            return TimeSpan.Zero;
        }

        sample /= options.LatencyRate;
        double mean = options.LatencyMs;
        var milliseconds = options.LatencyDistribution switch
        {
            LatencyDistribution.Uniform => mean * (0.5 + sample),
            // Inverse transform sampling; 1 - sample is in (0, 1], so the logarithm is finite.
            LatencyDistribution.Exponential => -mean * Math.Log(1 - sample),
            _ => mean,
        };
        return TimeSpan.FromMilliseconds(Math.Min(milliseconds, options.LatencyMaxMs));
    }
}
