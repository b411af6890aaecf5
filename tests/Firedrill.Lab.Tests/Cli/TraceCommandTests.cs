using Firedrill.Lab.Tests.Support;

namespace Firedrill.Lab.Tests.Cli;

public sealed class TraceCommandTests
{
    private const string TraceId = "4bf92f3577b34da6a3ce929d0e0e4736";

    [Fact]
    public async Task Trace_LinesAcrossProcesses_PrintsOnlyThatTraceInTimeOrder()
    {
        var runs = LabDefaults.TempFolder();
        var logs = Directory.CreateDirectory(Path.Combine(runs, "20261123-000000-abcd", "duplicate-payments", "logs")).FullName;
        await File.WriteAllTextAsync(Path.Combine(runs, "latest"), "20261123-000000-abcd");
        await File.WriteAllLinesAsync(Path.Combine(logs, "shop-1.log"),
        [
            Line("2026-11-23T10:00:00.300Z", "Payment accepted", TraceId),
            Line("2026-11-23T10:00:00.100Z", "Another request", "00000000000000000000000000000001"),
        ]);
        await File.WriteAllLinesAsync(Path.Combine(logs, "gateway.log"), [Line("2026-11-23T10:00:00.200Z", "Proxying", TraceId)]);
        await File.WriteAllLinesAsync(Path.Combine(logs, "inventory.log"), [Line("2026-11-23T10:00:00.250Z", "Stock read", TraceId)]);

        var (exitCode, output) = await LabCli.RunAsync(runs, "trace", TraceId);

        Assert.Equal(0, exitCode);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, lines.Length);
        Assert.Contains("gateway", lines[0], StringComparison.Ordinal);
        Assert.Contains("inventory", lines[1], StringComparison.Ordinal);
        Assert.Contains("Payment accepted", lines[2], StringComparison.Ordinal);
        Assert.DoesNotContain("Another request", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Trace_UnknownId_ExitsNonZeroNamingTheRun()
    {
        var runs = LabDefaults.TempFolder();
        Directory.CreateDirectory(Path.Combine(runs, "run-1"));
        await File.WriteAllTextAsync(Path.Combine(runs, "latest"), "run-1");

        var (exitCode, output) = await LabCli.RunAsync(runs, "trace", TraceId);

        Assert.Equal(1, exitCode);
        Assert.Contains("run-1", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TraceTree_Spans_DrawsEachUnderItsParentOnOneTimeLine()
    {
        var runs = LabDefaults.TempFolder();
        var logs = Directory.CreateDirectory(Path.Combine(runs, "run-2", "uncorrelated-logs", "logs")).FullName;
        await File.WriteAllTextAsync(Path.Combine(runs, "latest"), "run-2");
        await File.WriteAllLinesAsync(Path.Combine(logs, "gateway.spans.jsonl"), [Span("a000000000000001", null, "gateway", "POST /api/{**rest}", 0, 100)]);
        await File.WriteAllLinesAsync(Path.Combine(logs, "shop-1.spans.jsonl"),
        [
            Span("b000000000000002", "a000000000000001", "shop-1", "POST /payments/", 10, 80),
            Span("c000000000000003", "b000000000000002", "shop-1", "ledger applied", 5000, 1),
            Span("d000000000000004", null, "shop-1", "another trace", 0, 5, "00000000000000000000000000000001"),
        ]);

        var (exitCode, output) = await LabCli.RunAsync(runs, "trace", TraceId, "--tree");

        Assert.Equal(0, exitCode);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains("3 spans", lines[0], StringComparison.Ordinal);
        Assert.StartsWith("gateway    POST /api/{**rest}", lines[2], StringComparison.Ordinal);
        Assert.StartsWith("shop-1       POST /payments/", lines[3], StringComparison.Ordinal);
        Assert.StartsWith("shop-1         ledger applied", lines[4], StringComparison.Ordinal);
        Assert.Contains("began 5000 ms after the request", lines[4], StringComparison.Ordinal);
        Assert.DoesNotContain("another trace", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TraceTree_NoSpansRecorded_ExitsNonZeroSayingSo()
    {
        var runs = LabDefaults.TempFolder();
        Directory.CreateDirectory(Path.Combine(runs, "run-3"));
        await File.WriteAllTextAsync(Path.Combine(runs, "latest"), "run-3");

        var (exitCode, output) = await LabCli.RunAsync(runs, "trace", TraceId, "--tree");

        Assert.Equal(1, exitCode);
        Assert.Contains("recorded no spans", output, StringComparison.Ordinal);
    }

    private static string Span(string id, string? parent, string service, string name, int startMs, double ms, string trace = TraceId) =>
        System.Text.Json.JsonSerializer.Serialize(new Dictionary<string, object?>
        {
            ["trace"] = trace, ["span"] = id, ["parent"] = parent, ["service"] = service, ["name"] = name, ["kind"] = "server",
            ["start"] = new DateTime(2026, 11, 23, 10, 0, 0, DateTimeKind.Utc).AddMilliseconds(startMs), ["ms"] = ms, ["status"] = "Unset", ["detail"] = null,
        });

    private static string Line(string at, string message, string traceId) =>
        $$"""{"Timestamp":"{{at}}","EventId":1,"LogLevel":"Information","Category":"Test","Message":"{{message}}","Scopes":[{"TraceId":"{{traceId}}"}]}""";
}
