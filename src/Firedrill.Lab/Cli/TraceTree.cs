using System.Globalization;
using System.Text;
using System.Text.Json;
using Firedrill.ServiceDefaults.Telemetry;

namespace Firedrill.Lab.Cli;

/// <summary>
/// <c>firedrill trace ID --tree</c>: a trace's spans as a waterfall — each span under its parent,
/// a bar where it ran on the trace's time line. A span whose parent is not in the trace (a service
/// that started its own, a parent still unexported) is drawn as a root.
/// </summary>
internal static class TraceTree
{
    public const string SpansPattern = "*.spans.jsonl";
    private const int NameWidth = 46;
    private const int BarWidth = 40;

    public static async Task<List<SpanRecord>> ReadAsync(string run, string traceId, CancellationToken cancellationToken)
    {
        var spans = new List<SpanRecord>();
        foreach (var file in Directory.EnumerateFiles(run, SpansPattern, SearchOption.AllDirectories))
        {
            await using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            using var reader = new StreamReader(stream);
            while (await reader.ReadLineAsync(cancellationToken) is { } line)
            {
                if (line.Contains(traceId, StringComparison.Ordinal) && Parse(line) is { } span && span.Trace == traceId)
                {
                    spans.Add(span);
                }
            }
        }

        return spans;
    }

    /// <summary>
    /// The waterfall. Its time line is the first request's (the earliest root span): work that
    /// began after that request had ended — a Kafka consumer seconds later — is marked with how
    /// much later it began rather than squeezing the request into one column.
    /// </summary>
    public static string Draw(IReadOnlyList<SpanRecord> spans)
    {
        var ids = spans.Select(span => span.Span).ToHashSet(StringComparer.Ordinal);
        var roots = spans.Where(span => span.Parent is null || !ids.Contains(span.Parent)).OrderBy(span => span.Start).ToList();
        var start = spans.Min(span => span.Start);
        var end = spans.Where(span => span.Start <= End(roots[0])).Max(End);
        var total = Math.Max((end - start).TotalMilliseconds, 0.001);
        var children = spans.Where(span => span.Parent is not null && ids.Contains(span.Parent))
            .ToLookup(span => span.Parent!, StringComparer.Ordinal);
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture,
            $"trace {spans[0].Trace}: {spans.Count} spans from {spans.Select(span => span.Service).Distinct().Count()} services; the first request took {total:0.0} ms\n");
        text.Append(CultureInfo.InvariantCulture, $"{"service",-10} {"span",-NameWidth} |{"0 ms",-(BarWidth / 2)}{$"{total:0.0} ms",BarWidth / 2}|\n");

        void Walk(SpanRecord span, int depth)
        {
            var label = new string(' ', 2 * depth) + $"{span.Name} ({span.Kind})";
            label = label.Length <= NameWidth ? label : label[..(NameWidth - 1)] + "…";
            var offset = (span.Start - start).TotalMilliseconds;
            string bar;
            var later = "";
            if (span.Start > end)
            {
                bar = new string(' ', BarWidth - 1) + "»";
                later = string.Create(CultureInfo.InvariantCulture, $" (began {offset:0} ms after the request)");
            }
            else
            {
                var from = Math.Min((int)Math.Floor(offset / total * BarWidth), BarWidth - 1);
                var width = Math.Min(Math.Max(1, (int)Math.Round(span.Milliseconds / total * BarWidth)), BarWidth - from);
                bar = new string(' ', from) + new string('█', width) + new string(' ', BarWidth - from - width);
            }

            var status = span.Status is "Error" ? " ERROR" : "";
            text.Append(CultureInfo.InvariantCulture,
                $"{Shorten(span.Service, 10),-10} {label,-NameWidth} |{bar}| {span.Milliseconds,9:0.0} ms{status}{later}{(span.Detail is null ? "" : "  " + span.Detail)}\n");
            foreach (var child in children[span.Span].OrderBy(child => child.Start))
            {
                Walk(child, depth + 1);
            }
        }

        foreach (var root in roots)
        {
            Walk(root, 0);
        }

        return text.ToString().TrimEnd();
    }

    private static DateTime End(SpanRecord span) => span.Start.AddMilliseconds(span.Milliseconds);

    private static SpanRecord? Parse(string line)
    {
        try
        {
            return JsonSerializer.Deserialize<SpanRecord>(line);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static string Shorten(string text, int width) => text.Length <= width ? text : text[..width];
}
