using Firedrill.Lab.Faults;
using Firedrill.Lab.Tests.Support;

namespace Firedrill.Lab.Tests.Faults;

/// <summary>The faults command's answers to bad input, and its catalogue.</summary>
public sealed class FaultsCommandTests
{
    [Theory]
    [InlineData("faults", "no-such-fault")]
    [InlineData("faults", "0")]
    [InlineData("faults", "1", "--json", "/no/such/folder/out.json")]
    public async Task Faults_BadInput_ExitsNonZeroWithOneClearLine(params string[] args)
    {
        var (exitCode, output) = await LabCli.RunAsync(LabDefaults.TempFolder(), args);

        Assert.NotEqual(0, exitCode);
        Assert.DoesNotContain("   at ", output, StringComparison.Ordinal);
        Assert.NotEmpty(output.Trim());
    }

    [Fact]
    public async Task Faults_UnknownFault_NamesTheFaults()
    {
        var (_, output) = await LabCli.RunAsync(LabDefaults.TempFolder(), "faults", "nope");

        Assert.Contains("1 replica-killed", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Catalogue_EveryFault_HasAUniqueIdAndNumberAndFindsByEither()
    {
        var faults = FaultCatalogue.All;

        // Issue 15's twelve, every one built.
        Assert.Equal(Enumerable.Range(1, 12), faults.Select(f => f.Number));
        Assert.Equal(faults.Count, faults.Select(f => f.Id).Distinct().Count());
        Assert.Equal(faults.Count, faults.Select(f => f.Number).Distinct().Count());
        Assert.All(faults, fault =>
        {
            Assert.Same(fault.GetType(), FaultCatalogue.Find(fault.Id)!.GetType());
            Assert.Same(fault.GetType(), FaultCatalogue.Find(fault.Number.ToString(System.Globalization.CultureInfo.InvariantCulture))!.GetType());
            Assert.False(string.IsNullOrWhiteSpace(fault.Promise));
            Assert.False(string.IsNullOrWhiteSpace(fault.Audits));
        });
    }
}
