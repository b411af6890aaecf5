using System.CommandLine;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Firedrill.Lab.Cli;

/// <summary><c>firedrill trace &lt;traceId&gt;</c>: every captured log line of the last run with that id, all processes, in time order.</summary>
internal static partial class TraceCommand
{
    public static Command Create()
    {
        var traceId = new Argument<string>("traceId") { Description = "A W3C trace id: 32 hex digits (problem details carry it as traceId)." };
        traceId.Validators.Add(result =>
        {
            if (!TraceIdFormat().IsMatch(result.GetValueOrDefault<string>() ?? ""))
            {
                result.AddError("a trace id is 32 lowercase hex digits");
            }
        });
        var tree = new Option<bool>("--tree") { Description = "Draw the trace's spans as a waterfall instead (from the spans the services recorded, Telemetry:SpansFile)." };
        var command = new Command("trace", "Print the last run's log lines for one trace id, across processes, in time order.") { traceId, tree };
        command.SetAction((parse, cancellationToken) => LabCommands.Guard(async () =>
        {
            var run = LabEnvironment.LatestRunFolder() ?? throw new LabException("no run yet: 'firedrill up' or 'firedrill run' captures logs");
            var id = parse.GetValue(traceId)!;
            if (parse.GetValue(tree))
            {
                return await DrawTreeAsync(run, id, cancellationToken);
            }

            var lines = new List<(DateTimeOffset At, string Service, string Line)>();
            foreach (var file in Directory.EnumerateFiles(run, "*.log", SearchOption.AllDirectories))
            {
                // The services may still be writing: share the file with its writer.
                await using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
                using var reader = new StreamReader(stream);
                while (await reader.ReadLineAsync(cancellationToken) is { } line)
                {
                    if (line.Contains(id, StringComparison.Ordinal))
                    {
                        lines.Add((Timestamp(line), Path.GetFileNameWithoutExtension(file), line));
                    }
                }
            }

            foreach (var (at, service, line) in lines.OrderBy(entry => entry.At))
            {
                Console.WriteLine($"{at:HH:mm:ss.fff} {service,-10} {Message(line)}");
            }

            if (lines.Count == 0)
            {
                await Console.Error.WriteLineAsync($"firedrill: no log line of {Path.GetFileName(run)} carries trace {id}");
                return 1;
            }

            return 0;
        }));
        return command;
    }

    private static async Task<int> DrawTreeAsync(string run, string id, CancellationToken cancellationToken)
    {
        var spans = await TraceTree.ReadAsync(run, id, cancellationToken);
        if (spans.Count == 0)
        {
            var recorded = Directory.EnumerateFiles(run, TraceTree.SpansPattern, SearchOption.AllDirectories).Any();
            await Console.Error.WriteLineAsync(recorded
                ? $"firedrill: no span of {Path.GetFileName(run)} belongs to trace {id}"
                : $"firedrill: {Path.GetFileName(run)} recorded no spans (a fleet records them with Telemetry:SpansFile set)");
            return 1;
        }

        Console.WriteLine(TraceTree.Draw(spans));
        return 0;
    }

    private static DateTimeOffset Timestamp(string line)
    {
        try
        {
            using var json = JsonDocument.Parse(line);
            return json.RootElement.TryGetProperty("Timestamp", out var at) && at.TryGetDateTimeOffset(out var value) ? value : DateTimeOffset.MinValue;
        }
        catch (JsonException)
        {
            return DateTimeOffset.MinValue;
        }
    }

    private static string Message(string line)
    {
        try
        {
            using var json = JsonDocument.Parse(line);
            var root = json.RootElement;
            return $"{root.GetProperty("LogLevel").GetString()} {root.GetProperty("Category").GetString()}: {root.GetProperty("Message").GetString()}";
        }
        catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            return line;
        }
    }

    [GeneratedRegex("^[0-9a-f]{32}$")]
    private static partial Regex TraceIdFormat();
}
