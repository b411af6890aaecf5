using Firedrill.Lab.Tests.Fleet;
using Firedrill.Lab.Tests.Support;

namespace Firedrill.Lab.Tests.Scenarios.Incidents;

[Collection(IncidentLanes.A)]
public sealed class GatewayOnlyFailuresTests
{
    [Theory]
    [InlineData("header-too-large", 431)]
    [InlineData("body-too-large", 413)]
    [InlineData("gateway-timeout", 504)]
    [InlineData("stripped-header", 400)]
    [InlineData("shared-rate-limit", 429)]
    [InlineData("path-rewrite", 404)]
    public async Task Run_Quick_ReproducesAndFixes(string variant, int status)
    {
        var report = await IncidentRun.AssertReproducedAndFixedAsync("gateway-only-failures", variant);

        // The broken phase's matrix, with its curl commands: the telling status through the gateway only.
        var matrix = report.GetProperty("evidence").EnumerateArray()
            .Single(item => item.GetProperty("phase").GetString() == "broken" && item.GetProperty("name").GetString()!.StartsWith("Request matrix", StringComparison.Ordinal));
        var output = matrix.GetProperty("output").GetString()!;
        Assert.Contains($"| {status}", output, StringComparison.Ordinal);
        Assert.Contains("curl -s", output, StringComparison.Ordinal);
        Assert.Equal(0, report.GetProperty("phases").GetProperty("broken").GetProperty("signals").GetProperty("rows_failing_direct").GetDouble());
    }
}
