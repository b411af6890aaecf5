using Firedrill.Lab.Scenarios;

namespace Firedrill.Lab.Tests.Scenarios;

public sealed class VerdictTests
{
    private static CheckResult Check(string phase, bool pass) => new("c", phase, "> 0", pass ? 1 : 0, pass);

    [Fact]
    public void From_AllPass_IsReproducedAndFixed() =>
        Assert.Equal(Verdicts.ReproducedAndFixed, Verdict.From([Check(Phases.Broken, true), Check(Phases.Fixed, true)]));

    [Fact]
    public void From_BrokenFails_IsNotReproducedEvenIfFixedFailsToo() =>
        Assert.Equal(Verdicts.NotReproduced, Verdict.From([Check(Phases.Broken, false), Check(Phases.Fixed, false)]));

    [Fact]
    public void From_BaselineFails_IsNotReproduced() =>
        Assert.Equal(Verdicts.NotReproduced, Verdict.From([Check(Phases.Baseline, false), Check(Phases.Broken, true), Check(Phases.Fixed, true)]));

    [Fact]
    public void From_OnlyFixedFails_IsNotFixed() =>
        Assert.Equal(Verdicts.NotFixed, Verdict.From([Check(Phases.Broken, true), Check(Phases.Fixed, false)]));

    [Fact]
    public void From_NoChecks_IsError() => Assert.Equal(Verdicts.Error, Verdict.From([]));

    [Theory]
    [InlineData(10, 10, true)]
    [InlineData(9.99, 10, false)]
    public void AtLeast_Boundary_IsInclusive(double value, double minimum, bool pass)
    {
        var check = Verdict.AtLeast("x", Phases.Broken, value, minimum);

        Assert.Equal(pass, check.Pass);
        Assert.Equal(">= 10", check.Expect);
    }

    [Fact]
    public void Above_Zero_RejectsZero() => Assert.False(Verdict.Above("duplicates", Phases.Broken, 0, 0).Pass);

    [Fact]
    public void EqualTo_Zero_AcceptsOnlyZero()
    {
        Assert.True(Verdict.EqualTo("duplicates", Phases.Fixed, 0, 0).Pass);
        Assert.False(Verdict.EqualTo("duplicates", Phases.Fixed, 1, 0).Pass);
    }

    [Theory]
    [InlineData(3, 100)]
    [InlineData(50, 100)]
    [InlineData(80, 160)]
    public void WithinTwiceBaselineMs_IsTwiceTheBaselineAboveTheFloor(double baselineMs, double bound) =>
        Assert.Equal(bound, Verdict.WithinTwiceBaselineMs(baselineMs));
}
