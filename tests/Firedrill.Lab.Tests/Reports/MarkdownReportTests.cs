using Firedrill.Lab.Reports;
using Firedrill.Lab.Scenarios;

namespace Firedrill.Lab.Tests.Reports;

public sealed class MarkdownReportTests
{
    private static readonly ChartFiles ReproducedCharts = new("charts/pool-exhaustion-latency.png", "charts/pool-exhaustion-signal.png");

    private readonly string _markdown = MarkdownReport.Render(
        SampleReports.Run, [SampleReports.Reproduced, SampleReports.Errored], [ReproducedCharts, ChartFiles.None]);

    [Fact]
    public void Render_Run_HeaderNamesRunDateMachineCommandAndMode()
    {
        Assert.StartsWith("# Firedrill run 20261123-165300\n", _markdown, StringComparison.Ordinal);
        Assert.Contains("2026-11-23 16:53:00 UTC", _markdown, StringComparison.Ordinal);
        Assert.Contains("**Machine:** 2 cores", _markdown, StringComparison.Ordinal);
        Assert.Contains("`firedrill run pool-exhaustion --quick`", _markdown, StringComparison.Ordinal);
        Assert.Contains("**Mode:** quick", _markdown, StringComparison.Ordinal);
    }

    [Fact]
    public void Render_Results_OneRowPerScenarioWithVerdictAndKeyNumbers()
    {
        Assert.Contains("| `pool-exhaustion` | held-across-call | Connection pool exhausted | ✓ reproduced-and-fixed | 31 → 2,400 → 35 | 0 → 12 → 0.1 | pool\\_waiting: 0 → 38 → 0 |", _markdown, StringComparison.Ordinal);
        Assert.Contains("| `kafka-lag` | – | Consumer lag | ⚠ error |", _markdown, StringComparison.Ordinal);
    }

    [Fact]
    public void Render_Scenario_ShowsVerdictChecksPromQlAndPhases()
    {
        Assert.Contains("**Verdict:** ✓ reproduced-and-fixed", _markdown, StringComparison.Ordinal);
        Assert.Contains("**Error:** the fleet did not start", _markdown, StringComparison.Ordinal);
        Assert.Contains("| requests waiting for a connection | broken | `> 5` | 38 | ✓ |", _markdown, StringComparison.Ordinal);
        Assert.Contains("| p99 back under 100 ms | fixed | `< 100` | 35 | ✓ |", _markdown, StringComparison.Ordinal);
        Assert.Contains("- **pool wait:** `sum(npgsql_connections_pending{state=~\"wait|queued\"})` — requests queued for a connection", _markdown, StringComparison.Ordinal);
        Assert.Contains("  At the end of each phase: baseline 0 → broken 38 → fixed no data.", _markdown, StringComparison.Ordinal);
        Assert.Contains("**Variant:** `held-across-call`", _markdown, StringComparison.Ordinal);
        Assert.Contains("### Evidence\n\n**Sessions idle in transaction** (broken)\n\n```text\n$ psql -d shop -c 'SELECT state, count(*) FROM pg_stat_activity GROUP BY state'\n state | count\n", _markdown, StringComparison.Ordinal);
        Assert.Contains("| broken | 10 | 1,800 | 180 | 900 | 1,900 | 2,400 | 12 |", _markdown, StringComparison.Ordinal);
        Assert.Contains("| busy\\_connections | 3 | 10 | 3 |", _markdown, StringComparison.Ordinal);
        Assert.Contains("No phase ran.", _markdown, StringComparison.Ordinal);
    }

    [Fact]
    public void Render_PipeInRunbookText_IsEscaped()
    {
        Assert.Contains("Checkout p99 climbs past 2 s \\| then 503s", _markdown, StringComparison.Ordinal);
        Assert.DoesNotContain(SampleReports.PipedSymptom, _markdown, StringComparison.Ordinal);
    }

    [Fact]
    public void Render_PipesInCells_KeepEveryTableRowAsWideAsItsHeader()
    {
        var check = new CheckResult("5xx | timeouts", Phases.Broken, "> 0 | == 0", 1, false);
        var report = SampleReports.Reproduced with { Checks = [check] };

        var markdown = MarkdownReport.Render(SampleReports.Run, [report], [ChartFiles.None]);

        Assert.Contains("| 5xx \\| timeouts | broken | `> 0 \\| == 0` | 1 | ✗ |", markdown, StringComparison.Ordinal);
        var columns = 0;
        foreach (var line in markdown.Split('\n'))
        {
            if (!line.StartsWith('|'))
            {
                columns = 0;
                continue;
            }

            var cells = UnescapedPipes(line) - 1;
            columns = columns == 0 ? cells : columns;
            Assert.True(cells == columns, $"row has {cells} cells, its table {columns}: {line}");
        }
    }

    [Fact]
    public void Render_Charts_LinkedRelativelyOnlyWhenWritten()
    {
        Assert.Contains("](charts/pool-exhaustion-latency.png)", _markdown, StringComparison.Ordinal);
        Assert.Contains("](charts/pool-exhaustion-signal.png)", _markdown, StringComparison.Ordinal);
        Assert.Equal(2, _markdown.Split('\n').Count(line => line.StartsWith("![", StringComparison.Ordinal)));
    }

    [Theory]
    [InlineData("a | b", "a \\| b")]
    [InlineData("*not bold* _nor this_", "\\*not bold\\* \\_nor this\\_")]
    [InlineData("<script>", "\\<script\\>")]
    [InlineData("two\nlines", "two lines")]
    public void Inline_MarkdownCharacters_AreEscaped(string text, string expected)
    {
        Assert.Equal(expected, Markdown.Inline(text));
    }

    [Theory]
    [InlineData("# not a heading", "\\# not a heading")]
    [InlineData("first\n- not a list", "first  \n\\- not a list")]
    [InlineData("2. not a list", "2\\. not a list")]
    public void Paragraph_LineStartingABlock_IsEscaped(string text, string expected)
    {
        Assert.Equal(expected, Markdown.Paragraph(text));
    }

    [Theory]
    [InlineData("rate(x[1m])", false, "`rate(x[1m])`")]
    [InlineData("a`b", false, "``a`b``")]
    [InlineData("`a", false, "`` `a ``")]
    [InlineData("{a=~\"x|y\"}", true, "`{a=~\"x\\|y\"}`")]
    public void Code_Text_IsFencedSafely(string text, bool inTable, string expected)
    {
        Assert.Equal(expected, Markdown.Code(text, inTable));
    }

    [Theory]
    [InlineData(0, "0")]
    [InlineData(17, "17")]
    [InlineData(12345.6, "12,346")]
    [InlineData(123.4, "123")]
    [InlineData(12.34, "12.3")]
    [InlineData(0.123, "0.12")]
    [InlineData(0.00123, "0.0012")]
    [InlineData(double.NaN, "n/a")]
    public void Number_Value_FormattedForReading(double value, string expected)
    {
        Assert.Equal(expected, Markdown.Number(value));
    }

    private static int UnescapedPipes(string line) =>
        line.Where((c, i) => c == '|' && (i == 0 || line[i - 1] != '\\')).Count();
}
