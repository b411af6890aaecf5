using Firedrill.Lab.Tests.Fleet;
using Firedrill.Lab.Tests.Support;

namespace Firedrill.Lab.Tests.Scenarios.Incidents;

[Collection(nameof(FleetGroup))]
public sealed class KafkaConsumerLagTests
{
    [Theory]
    [InlineData("slow-handler")]
    [InlineData("hot-partition")]
    [InlineData("idle-consumers")]
    [InlineData("rebalance-storm")]
    public async Task Run_Quick_ReproducesAndFixes(string variant)
    {
        var report = await IncidentRun.AssertReproducedAndFixedAsync("kafka-consumer-lag", variant);

        var broken = report.GetProperty("phases").GetProperty("broken").GetProperty("signals");
        var fix = report.GetProperty("phases").GetProperty("fixed").GetProperty("signals");
        Assert.True(broken.GetProperty("lag_end").GetDouble() > broken.GetProperty("lag_start").GetDouble(), broken.ToString());
        // Every accepted payment went through the topic to the ledger exactly once, read back by kcat.
        Assert.Equal(fix.GetProperty("payments_accepted").GetDouble(), fix.GetProperty("events_on_topic").GetDouble());
        var evidence = report.GetProperty("evidence").EnumerateArray().ToList();
        Assert.Contains(evidence, item => item.GetProperty("phase").GetString() == "broken"
            && item.GetProperty("command").GetString()!.StartsWith("./firedrill kafka-group", StringComparison.Ordinal)
            && item.GetProperty("output").GetString()!.Contains("LOG-END-OFFSET", StringComparison.Ordinal));
        Assert.Contains(evidence, item => item.GetProperty("phase").GetString() == "fixed"
            && item.GetProperty("command").GetString()!.StartsWith("kcat ", StringComparison.Ordinal));
        Assert.Contains(evidence, item => item.GetProperty("output").GetString()!.Contains("firedrill_kafka_consumer_assignment", StringComparison.Ordinal));
    }
}
