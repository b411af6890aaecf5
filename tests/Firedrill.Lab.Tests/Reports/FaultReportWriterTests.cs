using System.Text.Json;
using Firedrill.Lab.Faults;
using Firedrill.Lab.Reports;
using Firedrill.Lab.Scenarios;

namespace Firedrill.Lab.Tests.Reports;

public sealed class FaultReportWriterTests : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "firedrill-faults-report-" + Guid.NewGuid().ToString("N"));

    private static readonly RunInfo Run = new("20261201-120000", new DateTimeOffset(2026, 12, 1, 12, 0, 0, TimeSpan.Zero), "2 cores", "firedrill faults --quick", Quick: true);

    private static readonly FaultReport Held = new()
    {
        Fault = "replica-killed",
        Number = 1,
        Title = "A replica killed | restarted",
        Passed = true,
        Requests = 800,
        ErrorRate = 0.05,
        ErrorRateDuring = 0.2,
        ErrorRateAfter = 0,
        Audited = 300,
        Lost = 0,
        Duplicated = 0,
        RecoverySeconds = 1.5,
        Details = new Dictionary<string, double> { ["payments_retried"] = 15 },
        Summary = "300 payers, none lost.",
        Promise = "charged once",
        Injected = "kill -9",
        Audit = "payers against the payments table",
        Recovery = "to the last failure",
        Checks = [new CheckResult("payments missing", "audit", "= 0", 0, true)],
        Timeline = Enumerable.Range(0, 12).Select(second => new TimelinePoint(second, second < 4 ? FaultClock.Before : second < 8 ? "killed" : FaultClock.After,
            50, 20 + second, 80 + (10 * second), second is 4 or 5 ? 0.4 : 0, new Dictionary<string, double> { ["replicas ready"] = second is >= 4 and < 8 ? 1 : 2 })).ToList(),
        Signals = ["replicas ready"],
    };

    private static readonly FaultReport Errored = new()
    {
        Fault = "relay-killed",
        Number = 3,
        Title = "Relay killed",
        Passed = false,
        Promise = "every payment on the topic",
        Injected = "kill -9 of every replica",
        Audit = "kcat against PostgreSQL",
        Recovery = "to the backlog published",
        Error = "TimeoutException: the fleet did not start",
    };

    [Fact]
    public async Task WriteAsync_TwoFaults_JsonIsTheListOfIssue15()
    {
        await FaultReportWriter.WriteAsync(_folder, Run, [Held, Errored], CancellationToken.None);

        using var json = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(_folder, "report.json")));
        var faults = json.RootElement.EnumerateArray().ToList();
        Assert.Equal(2, faults.Count);
        foreach (var fault in faults)
        {
            foreach (var field in new[] { "fault", "passed", "requests", "error_rate", "audited", "lost", "duplicated", "recovery_seconds", "details" })
            {
                Assert.True(fault.TryGetProperty(field, out _), $"{fault.GetProperty("fault")} has no {field}");
            }
        }

        Assert.Equal(JsonValueKind.Null, faults[1].GetProperty("recovery_seconds").ValueKind);
        Assert.Equal(15, faults[0].GetProperty("details").GetProperty("payments_retried").GetDouble());
    }

    [Fact]
    public async Task WriteAsync_OneFault_JsonIsStillAList()
    {
        Assert.StartsWith("[", FaultReportWriter.ToJson([Held]), StringComparison.Ordinal);
        await Task.CompletedTask;
    }

    [Fact]
    public async Task WriteAsync_TwoFaults_MarkdownHasARowPerFaultAndChartsOfTheOneThatRan()
    {
        var written = await FaultReportWriter.WriteAsync(_folder, Run, [Held, Errored], CancellationToken.None);

        Assert.Contains(Path.Combine(_folder, "charts", "01-replica-killed-latency.png"), written);
        Assert.Contains(Path.Combine(_folder, "charts", "01-replica-killed-signal.png"), written);
        Assert.DoesNotContain(written, path => path.Contains("relay-killed", StringComparison.Ordinal));
        var markdown = await File.ReadAllTextAsync(Path.Combine(_folder, "report.md"));
        var rows = markdown.Split('\n').Where(line => line.StartsWith("| 1 |", StringComparison.Ordinal) || line.StartsWith("| 3 |", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, rows.Count);
        Assert.Contains("1 of 2 faults hold", markdown, StringComparison.Ordinal);
        // A pipe in a title stays inside its cell.
        Assert.Contains("A replica killed \\| restarted", markdown, StringComparison.Ordinal);
        Assert.Contains("TimeoutException: the fleet did not start", markdown, StringComparison.Ordinal);
    }

    public void Dispose()
    {
        if (Directory.Exists(_folder))
        {
            Directory.Delete(_folder, recursive: true);
        }
    }
}
