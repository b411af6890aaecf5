using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Firedrill.Lab.Reports;

/// <summary>
/// Turns plain text and numbers into GitHub-flavoured Markdown that renders as the text, whatever
/// it contains: scenario authors write runbooks as prose, not Markdown, and a stray <c>|</c>
/// in a table cell would otherwise split the column.
/// </summary>
internal static partial class Markdown
{
    private const string InlineSpecials = "\\`*_[]<>|~";

    /// <summary>Inline text, on one line (table cells, list items, headings).</summary>
    public static string Inline(string? text)
    {
        var builder = new StringBuilder();
        foreach (var c in OneLine(text))
        {
            if (InlineSpecials.Contains(c, StringComparison.Ordinal))
            {
                builder.Append('\\');
            }

            builder.Append(c);
        }

        return builder.ToString();
    }

    /// <summary>
    /// A paragraph of text that may span lines; each line kept, none read as a heading, list item,
    /// rule or setext underline (a quote's '>' is already escaped inline).
    /// </summary>
    public static string Paragraph(string? text)
    {
        var lines = (text ?? string.Empty).ReplaceLineEndings("\n").Split('\n')
            .Select(line => line.Trim())
            .Where(line => line.Length > 0)
            .Select(line => EscapeBlockStart(Inline(line)));
        // Two trailing spaces: a hard line break, so the author's line breaks survive.
        return string.Join("  \n", lines);
    }

    /// <summary>A code span (PromQL, commands), fenced with more backticks than it contains; pipes escaped for table cells.</summary>
    public static string Code(string? text, bool inTable = false)
    {
        var content = OneLine(text);
        if (inTable)
        {
            // In a GFM table, \| is a pipe even inside a code span.
            content = content.Replace("|", "\\|", StringComparison.Ordinal);
        }

        var longestRun = BacktickRuns().Matches(content).Select(match => match.Length).DefaultIfEmpty(0).Max();
        var fence = new string('`', longestRun + 1);
        var pad = content.StartsWith('`') || content.EndsWith('`') ? " " : string.Empty;
        return $"{fence}{pad}{content}{pad}{fence}";
    }

    /// <summary>A fenced code block holding <paramref name="text"/> verbatim: its fence is longer than any backtick run inside.</summary>
    public static string CodeBlock(string? text)
    {
        var content = (text ?? string.Empty).ReplaceLineEndings("\n").TrimEnd('\n');
        var longestRun = BacktickRuns().Matches(content).Select(match => match.Length).DefaultIfEmpty(0).Max();
        var fence = new string('`', Math.Max(3, longestRun + 1));
        return $"{fence}text\n{content}\n{fence}";
    }

    /// <summary>A table row; every cell must already be Markdown (see <see cref="Inline"/>, <see cref="Code"/>).</summary>
    public static string Row(params IEnumerable<string> cells) => $"| {string.Join(" | ", cells)} |";

    /// <summary>The header and delimiter rows; numeric columns (marked with a leading '#') are right-aligned.</summary>
    public static string Header(params IEnumerable<string> columns)
    {
        var names = columns.ToList();
        var header = Row(names.Select(name => Inline(name.TrimStart('#'))));
        var delimiter = Row(names.Select(name => name.StartsWith('#') ? "--:" : "---"));
        return header + "\n" + delimiter;
    }

    /// <summary>A number as people read it: no more digits than carry meaning, thousands separated.</summary>
    public static string Number(double value) => value switch
    {
        double.NaN => "n/a",
        double.PositiveInfinity => "∞",
        double.NegativeInfinity => "-∞",
        0 => "0",
        _ when Math.Abs(value) >= 1000 || value == Math.Round(value) => value.ToString("#,0", CultureInfo.InvariantCulture),
        _ when Math.Abs(value) >= 100 => value.ToString("0", CultureInfo.InvariantCulture),
        _ when Math.Abs(value) >= 10 => value.ToString("0.#", CultureInfo.InvariantCulture),
        _ when Math.Abs(value) >= 0.01 => value.ToString("0.##", CultureInfo.InvariantCulture),
        _ => value.ToString("G2", CultureInfo.InvariantCulture),
    };

    /// <summary>A fraction (0..1) as a percentage number.</summary>
    public static string Percent(double fraction) => Number(fraction * 100);

    private static string EscapeBlockStart(string line)
    {
        var ordered = OrderedListStart().Match(line);
        if (ordered.Success)
        {
            // "1." opens a list; "1\." does not (a backslash before the digit would show).
            return line.Insert(ordered.Length - 1, "\\");
        }

        return line.Length > 0 && "#-+=".Contains(line[0], StringComparison.Ordinal) ? "\\" + line : line;
    }

    private static string OneLine(string? text) =>
        string.Join(' ', (text ?? string.Empty).ReplaceLineEndings("\n").Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries));

    [GeneratedRegex(@"^\d+[.)]")]
    private static partial Regex OrderedListStart();

    [GeneratedRegex("`+")]
    private static partial Regex BacktickRuns();
}
