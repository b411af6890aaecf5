using Firedrill.Lab.Tests.Fleet;
using Firedrill.Lab.Tests.Support;

namespace Firedrill.Lab.Tests.Scenarios.Incidents;

[Collection(IncidentLanes.B)]
public sealed class UncorrelatedLogsTests
{
    [Theory]
    [InlineData("dropped-context")]
    [InlineData("no-kafka-propagation")]
    [InlineData("free-text-logs")]
    public async Task Run_Quick_ReproducesAndFixes(string variant)
    {
        var report = await IncidentRun.AssertReproducedAndFixedAsync("uncorrelated-logs", variant);

        // The charted key signal moves with the symptom: the variant's broken link counted while it is broken, less once fixed.
        var key = report.GetProperty("key_signal").GetString()!;
        double KeyAt(string phase) => report.GetProperty("phases").GetProperty(phase).GetProperty("signals").GetProperty(key).GetDouble();
        Assert.True(KeyAt("broken") > 0, $"{key}: broken {KeyAt("broken")}");
        Assert.True(KeyAt("fixed") < KeyAt("broken"), $"{key}: broken {KeyAt("broken")}, fixed {KeyAt("fixed")}");

        var evidence = report.GetProperty("evidence").EnumerateArray().ToList();
        // Fixed: one sampled payment's lines from all four processes under the id its response returned, and its spans as a waterfall.
        var lines = evidence.Single(item => item.GetProperty("phase").GetString() == "fixed" && item.GetProperty("command").GetString()!.StartsWith("./firedrill trace ", StringComparison.Ordinal)
            && !item.GetProperty("command").GetString()!.EndsWith("--tree", StringComparison.Ordinal)).GetProperty("output").GetString()!;
        foreach (var process in new[] { "gateway", "shop-1", "inventory", "LedgerHandler" })
        {
            Assert.Contains(process, lines, StringComparison.Ordinal);
        }

        var tree = evidence.Single(item => item.GetProperty("phase").GetString() == "fixed" && item.GetProperty("command").GetString()!.EndsWith("--tree", StringComparison.Ordinal))
            .GetProperty("output").GetString()!;
        Assert.Contains("ledger applied", tree, StringComparison.Ordinal);
        Assert.Contains("█", tree, StringComparison.Ordinal);
    }
}
