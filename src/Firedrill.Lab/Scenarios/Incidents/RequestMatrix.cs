using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.WebUtilities;

namespace Firedrill.Lab.Scenarios.Incidents;

/// <summary>Where a matrix is sent: straight to a replica ("staging") or through the gateway ("production").</summary>
internal sealed record MatrixTarget(string Name, string BaseUrl, bool ViaGateway);

/// <summary>
/// One request of the matrix, as the curl command a user would type to send it to a target. A
/// row either prints one answer (<c>-w '\n%{http_code}\n'</c> after the body) or, for a crowd of
/// requests, a <c>uniq -c</c> count per status.
/// </summary>
internal sealed record MatrixRow(int Number, string Request, Func<MatrixTarget, string> Command, bool Crowd = false);

/// <summary>What one row got from one target: the statuses (with counts), why, and how long it took.</summary>
internal sealed record RowOutcome(IReadOnlyDictionary<int, int> Statuses, string Reason, TimeSpan Took)
{
    public bool Passed => Statuses.Count > 0 && Statuses.Keys.All(status => status is >= 200 and < 300);

    public string Display => Statuses.Count == 1 && Statuses.Single().Value == 1
        ? Statuses.Single().Key.ToString(CultureInfo.InvariantCulture)
        : Statuses.Count == 0 ? "no answer" : string.Join(", ", Statuses.OrderBy(pair => pair.Key).Select(pair => $"{pair.Key} ×{pair.Value}"));
}

internal sealed record MatrixLine(MatrixRow Row, RowOutcome Direct, RowOutcome Gateway);

/// <summary>The matrix's answers, counted the way the verdict needs them, and as the table a user reads.</summary>
internal sealed record MatrixResult(IReadOnlyList<MatrixLine> Lines, MatrixTarget Direct, MatrixTarget Gateway)
{
    public int FailingDirect => Lines.Count(line => !line.Direct.Passed);

    public int FailingGateway => Lines.Count(line => !line.Gateway.Passed);

    public int FailingOnlyThroughGateway => Lines.Count(line => line.Direct.Passed && !line.Gateway.Passed);

    /// <summary>Rows that passed direct and got <paramref name="status"/> from the gateway at least once.</summary>
    public int GatewayAnswered(int status) => Lines.Count(line => line.Direct.Passed && line.Gateway.Statuses.ContainsKey(status));

    public string ToTable()
    {
        var header = new[] { "#", "request", $"{Direct.Name}", $"{Gateway.Name}", "reason (through the gateway)" };
        var rows = Lines.Select(line => new[]
        {
            line.Row.Number.ToString(CultureInfo.InvariantCulture), line.Row.Request, line.Direct.Display, line.Gateway.Display,
            line.Gateway.Passed ? (line.Direct.Passed ? "" : line.Direct.Reason) : line.Gateway.Reason,
        }).ToList();
        var widths = Enumerable.Range(0, header.Length).Select(i => rows.Select(row => row[i].Length).Append(header[i].Length).Max()).ToArray();
        var text = new StringBuilder();
        void Append(string[] cells) => text.Append(string.Join(" | ", cells.Select((cell, i) => cell.PadRight(widths[i]))).TrimEnd()).Append('\n');
        Append(header);
        Append(widths.Select(width => new string('-', width)).ToArray());
        rows.ForEach(Append);
        text.Append('\n').Append("Each row's command, as it ran:\n");
        foreach (var line in Lines)
        {
            text.Append(CultureInfo.InvariantCulture, $"{line.Row.Number,2} {Direct.Name}: {line.Row.Command(Direct)}\n");
            text.Append(CultureInfo.InvariantCulture, $"{line.Row.Number,2} {Gateway.Name}: {line.Row.Command(Gateway)}\n");
        }

        return text.ToString().TrimEnd();
    }
}

/// <summary>
/// Sends every row to both targets with curl — the two targets side by side, each target's rows
/// in order — and reads each answer's status and, from an RFC 9457 body, its reason.
/// </summary>
internal static class RequestMatrix
{
    /// <summary>curl's own bound on every request; longer than any answer the matrix expects.</summary>
    public const int CurlMaxSeconds = 20;

    public static async Task<MatrixResult> RunAsync(IReadOnlyList<MatrixRow> rows, MatrixTarget direct, MatrixTarget gateway, string folder, CancellationToken cancellationToken)
    {
        var directRun = RunTargetAsync(rows, direct, folder, cancellationToken);
        var gatewayRun = RunTargetAsync(rows, gateway, folder, cancellationToken);
        var (fromDirect, fromGateway) = (await directRun, await gatewayRun);
        return new MatrixResult(rows.Select((row, i) => new MatrixLine(row, fromDirect[i], fromGateway[i])).ToList(), direct, gateway);
    }

    private static async Task<List<RowOutcome>> RunTargetAsync(IReadOnlyList<MatrixRow> rows, MatrixTarget target, string folder, CancellationToken cancellationToken)
    {
        var outcomes = new List<RowOutcome>(rows.Count);
        foreach (var row in rows)
        {
            var started = Stopwatch.GetTimestamp();
            var (_, output) = await ShellCommand.RunAsync(row.Command(target), folder, TimeSpan.FromSeconds(CurlMaxSeconds + 10), cancellationToken);
            var took = Stopwatch.GetElapsedTime(started);
            outcomes.Add(row.Crowd ? ParseCrowd(output, took) : ParseSingle(output, took));
        }

        return outcomes;
    }

    /// <summary>The body, then the status on the last line (curl <c>-w '\n%{http_code}\n'</c>).</summary>
    internal static RowOutcome ParseSingle(string output, TimeSpan took)
    {
        var text = output.TrimEnd();
        var cut = text.LastIndexOf('\n');
        var last = cut < 0 ? text : text[(cut + 1)..];
        var body = cut < 0 ? "" : text[..cut];
        if (!int.TryParse(last.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var status) || status == 0)
        {
            return new RowOutcome(new Dictionary<int, int>(), $"no HTTP answer: {Shorten(text)}", took);
        }

        return new RowOutcome(new Dictionary<int, int> { [status] = 1 }, Reason(status, body), took);
    }

    /// <summary><c>uniq -c</c> lines: a count, then a status.</summary>
    internal static RowOutcome ParseCrowd(string output, TimeSpan took)
    {
        var statuses = new Dictionary<int, int>();
        foreach (var line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length == 2 && int.TryParse(parts[0], CultureInfo.InvariantCulture, out var count) && int.TryParse(parts[1], CultureInfo.InvariantCulture, out var status) && status > 0)
            {
                statuses[status] = statuses.GetValueOrDefault(status) + count;
            }
        }

        var failures = statuses.Keys.Where(status => status is < 200 or >= 300).Order().ToList();
        var reason = failures.Count == 0 ? "" : string.Join("; ", failures.Select(status => $"{status} {ReasonPhrases.GetReasonPhrase(status)}"));
        return new RowOutcome(statuses, statuses.Count == 0 ? $"no HTTP answer: {Shorten(output)}" : reason, took);
    }

    /// <summary>The status and, when the body is a problem, its title and detail (or first field error).</summary>
    private static string Reason(int status, string body)
    {
        var reason = $"{status} {ReasonPhrases.GetReasonPhrase(status)}";
        try
        {
            using var json = JsonDocument.Parse(body);
            var root = json.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("title", out var title))
            {
                return reason;
            }

            var detail = root.TryGetProperty("detail", out var text) ? text.GetString() : null;
            return Shorten($"{status} {title.GetString()}" + (string.IsNullOrWhiteSpace(detail) ? "" : $": {detail}"));
        }
        catch (JsonException)
        {
            return reason;
        }
    }

    private static string Shorten(string text)
    {
        var line = text.ReplaceLineEndings(" ").Trim();
        return line.Length <= 110 ? line : line[..110] + "…";
    }
}
