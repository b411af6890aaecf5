using Firedrill.Lab.Scenarios;
using Firedrill.Lab.Tests.Support;

namespace Firedrill.Lab.Tests.Scenarios;

/// <summary>The CLI's answers to bad input, and its catalogue.</summary>
public sealed class CliTests
{
    [Theory]
    [InlineData("run", "no-such-incident")]
    [InlineData("run", "no-such-incident-either", "--quick")]
    [InlineData("run")]
    [InlineData("run", "duplicate-payments", "--variant", "no-such-variant")]
    [InlineData("run", "duplicate-payments", "slow-downstream-cascade", "--variant", "late-answer")]
    [InlineData("up", "--replicas", "0")]
    [InlineData("trace", "not-a-trace-id")]
    [InlineData("diagnose", "shop-1", "not-a-view")]
    [InlineData("diagnose", "shop-1")]
    [InlineData("diagnose", "shop-1", "stacks")]
    public async Task Cli_BadInput_ExitsNonZeroWithOneClearLine(params string[] args)
    {
        var (exitCode, output) = await LabCli.RunAsync(LabDefaults.TempFolder(), args);

        Assert.NotEqual(0, exitCode);
        Assert.DoesNotContain("   at ", output, StringComparison.Ordinal);
        Assert.NotEmpty(output.Trim());
    }

    [Fact]
    public async Task Run_UnknownVariant_NamesTheValidOnes()
    {
        var (_, output) = await LabCli.RunAsync(LabDefaults.TempFolder(), "run", "duplicate-payments", "--variant", "nope");

        Assert.Contains("late-answer, gateway-504", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task List_InAPipe_ShowsEveryIncidentAndVariantOnOneLine()
    {
        var (exitCode, output) = await LabCli.RunAsync(LabDefaults.TempFolder(), "list");

        Assert.Equal(0, exitCode);
        var lines = output.Split('\n');
        foreach (var entry in Catalogue.All)
        {
            Assert.Contains(lines, line => line.Contains(entry.Id, StringComparison.Ordinal)
                && line.Contains(string.Join(", ", entry.Variants), StringComparison.Ordinal));
        }
    }

    [Fact]
    public void Catalogue_ImplementedScenarios_DeclareTheVariantsOfScenariosMd()
    {
        foreach (var entry in Catalogue.All.Where(entry => Catalogue.IsImplemented(entry.Id)))
        {
            var scenario = Catalogue.Create(entry.Id);
            Assert.Equal(entry.Variants, scenario.Variants.Select(variant => variant.Name));
            Assert.Equal(entry.Variants[0], scenario.Variant.Name);
            Assert.All(entry.Variants, name => Assert.Equal(name, Catalogue.Create(entry.Id, name).Variant.Name));
        }
    }
}
