using Firedrill.Inventory.Faults;

namespace Firedrill.Inventory.Tests.Faults;

public sealed class InjectedLatencyTests
{
    [Theory]
    [InlineData(0.0)]
    [InlineData(0.7)]
    public void Next_Fixed_IsTheConfiguredLatency(double sample)
    {
        Assert.Equal(TimeSpan.FromMilliseconds(200), InjectedLatency.Next(Options(200, LatencyDistribution.Fixed), sample));
    }

    [Theory]
    [InlineData(0.0, 100)]
    [InlineData(0.5, 200)]
    [InlineData(0.99, 298)]
    public void Next_Uniform_IsBetweenHalfAndOneAndAHalfTimes(double sample, double expectedMs)
    {
        Assert.Equal(expectedMs, InjectedLatency.Next(Options(200, LatencyDistribution.Uniform), sample).TotalMilliseconds, 3);
    }

    [Fact]
    public void Next_Exponential_HasTheConfiguredMean()
    {
        var options = Options(200, LatencyDistribution.Exponential);

        // The median of an exponential distribution is mean × ln 2; over a grid of samples the average approaches the mean.
        Assert.Equal(200 * Math.Log(2), InjectedLatency.Next(options, 0.5).TotalMilliseconds, 3);
        var average = Enumerable.Range(0, 10_000).Average(i => InjectedLatency.Next(options, (i + 0.5) / 10_000).TotalMilliseconds);
        Assert.InRange(average, 190, 210);
    }

    [Fact]
    public void Next_ExponentialTail_IsCappedAtLatencyMaxMs()
    {
        var options = Options(200, LatencyDistribution.Exponential);
        options.LatencyMaxMs = 500;

        Assert.Equal(TimeSpan.FromMilliseconds(500), InjectedLatency.Next(options, 0.999999));
    }

    [Theory]
    [InlineData(LatencyDistribution.Fixed)]
    [InlineData(LatencyDistribution.Uniform)]
    [InlineData(LatencyDistribution.Exponential)]
    public void Next_ZeroLatency_IsZero(LatencyDistribution distribution)
    {
        Assert.Equal(TimeSpan.Zero, InjectedLatency.Next(Options(0, distribution), 0.9));
    }

    [Theory]
    [InlineData(0.0, 5000)]
    [InlineData(0.49, 5000)]
    [InlineData(0.5, 0)]
    [InlineData(0.99, 0)]
    public void Next_HalfTheCalls_DelaysOnlyThoseBelowTheRate(double sample, double expectedMs)
    {
        var options = Options(5000, LatencyDistribution.Fixed);
        options.LatencyRate = 0.5;

        Assert.Equal(expectedMs, InjectedLatency.Next(options, sample).TotalMilliseconds);
    }

    [Fact]
    public void Next_HalfTheCallsUniform_DelayedOnesSpanTheWholeDistribution()
    {
        var options = Options(200, LatencyDistribution.Uniform);
        options.LatencyRate = 0.5;

        // The delayed half, stretched back over the distribution: from half to one and a half times the mean.
        Assert.Equal(100, InjectedLatency.Next(options, 0.0).TotalMilliseconds, 3);
        Assert.Equal(298, InjectedLatency.Next(options, 0.495).TotalMilliseconds, 3);
        var delayed = Enumerable.Range(0, 10_000).Count(i => InjectedLatency.Next(options, (i + 0.5) / 10_000) > TimeSpan.Zero);
        Assert.Equal(5_000, delayed);
    }

    private static InventoryOptions Options(int latencyMs, LatencyDistribution distribution) =>
        new() { LatencyMs = latencyMs, LatencyDistribution = distribution };
}
