using Firedrill.Lab.Tests.Fleet;
using Firedrill.Lab.Tests.Support;

namespace Firedrill.Lab.Tests.Scenarios.Incidents;

[Collection(IncidentLanes.B)]
public sealed class Random500sTests
{
    [Theory]
    [InlineData("shared-state", "Npgsql.NpgsqlOperationInProgressException")]
    [InlineData("bad-record", "System.InvalidCastException")] // inside Dapper's DataException; the log line names both
    [InlineData("unhandled-downstream", "System.Net.Http.HttpRequestException")]
    public async Task Run_Quick_ReproducesAndFixes(string variant, string exceptionType)
    {
        var report = await IncidentRun.AssertReproducedAndFixedAsync("random-500s", variant);

        // The trace of a real 500 names the exception type and the shop's frame.
        var trace = report.GetProperty("evidence").EnumerateArray()
            .Single(item => item.GetProperty("command").GetString()!.StartsWith("./firedrill trace ", StringComparison.Ordinal));
        var output = trace.GetProperty("output").GetString()!;
        Assert.Contains(exceptionType, output, StringComparison.Ordinal);
        Assert.Contains(" at Firedrill.Shop.", output, StringComparison.Ordinal);
    }
}
