using Firedrill.Lab.Tests.Fleet;
using Firedrill.Lab.Tests.Support;

namespace Firedrill.Lab.Tests.Scenarios.Incidents;

[Collection(IncidentLanes.A)]
public sealed class StaleCacheTests
{
    [Theory]
    [InlineData("no-broadcast")]
    [InlineData("bypassed-invalidation")]
    public async Task Run_Quick_ReproducesAndFixes(string variant)
    {
        var report = await IncidentRun.AssertReproducedAndFixedAsync("stale-cache", variant);

        // The evidence a user would take by hand: PostgreSQL's price beside each replica's, a second after the write.
        var prices = report.GetProperty("evidence").EnumerateArray()
            .Where(item => item.GetProperty("name").GetString()!.Contains("its price in PostgreSQL", StringComparison.Ordinal))
            .ToDictionary(item => item.GetProperty("phase").GetString()!, item => Answers(item.GetProperty("output").GetString()!));
        Assert.True(prices["broken"].Count(pair => pair.Key != "postgres" && pair.Value != prices["broken"]["postgres"]) >= 2,
            $"broken: fewer than two replicas answered an old price: {string.Join(", ", prices["broken"])}");
        Assert.All(prices["fixed"], pair => Assert.Equal(prices["fixed"]["postgres"], pair.Value));
        Assert.Equal(4, prices["fixed"].Count);
    }

    /// <summary>Lines of "source|price": postgres first, then one per replica.</summary>
    private static Dictionary<string, string> Answers(string output) =>
        output.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split('|'))
            .Where(parts => parts.Length == 2)
            .ToDictionary(parts => parts[0].Trim(), parts => parts[1].Trim());
}
