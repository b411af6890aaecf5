using System.Globalization;
using System.Text;

namespace Firedrill.Lab.Diagnostics;

/// <summary>
/// A <c>dotnet-stack report</c> read back and summarised as an engineer does it: threads grouped
/// by the frame they are blocked in and the first frame of our own code beneath it.
/// </summary>
public sealed record StackReport(IReadOnlyList<IReadOnlyList<string>> Threads)
{
    public static StackReport Parse(string report)
    {
        var threads = new List<IReadOnlyList<string>>();
        List<string>? current = null;
        foreach (var line in report.ReplaceLineEndings("\n").Split('\n'))
        {
            if (line.StartsWith("Thread (", StringComparison.Ordinal))
            {
                current = [];
                threads.Add(current);
            }
            else if (current is not null && line.StartsWith("  ", StringComparison.Ordinal) && line.Trim() is { Length: > 0 } frame && frame != "[Native Frames]")
            {
                current.Add(Simplify(frame));
            }
        }

        return new StackReport(threads);
    }

    /// <summary>
    /// Threads per (blocking call, first frame of <paramref name="ownCode"/>), the largest group first. The
    /// blocking call is the frame our code called into (<c>TaskAwaiter.GetResult</c>, say) — the frames
    /// above it vary with the moment of the sample (spinning, then a monitor wait) — or, for a thread
    /// with none of our frames, its top frame.
    /// </summary>
    public IReadOnlyList<ThreadGroup> GroupByBlockingFrame(string ownCode) =>
        Threads.Where(frames => frames.Count > 0)
            .Select(frames => (Frames: frames, Own: frames.ToList().FindIndex(frame => frame.StartsWith(ownCode, StringComparison.Ordinal))))
            .GroupBy(thread => thread.Own > 0 ? (Call: thread.Frames[thread.Own - 1], Own: thread.Frames[thread.Own])
                : (Call: thread.Frames[0], Own: thread.Own == 0 ? thread.Frames[0] : "-"))
            .Select(group => new ThreadGroup(group.Key.Call, group.Key.Own, group.Count()))
            .OrderByDescending(group => group.Threads)
            .ToList();

    public static string Table(IReadOnlyList<ThreadGroup> groups, int threads)
    {
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"{threads} managed threads, grouped by the call they are blocked in and the shop's frame that made it:");
        text.AppendLine(CultureInfo.InvariantCulture, $"{"threads",7}  {"blocked in (top frame if no shop frame)",-58}  shop frame");
        foreach (var group in groups)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"{group.Threads,7}  {group.TopFrame,-58}  {group.OwnFrame}");
        }

        return text.ToString().TrimEnd();
    }

    /// <summary><c>Module!Namespace.Type.Method(arguments)</c> → <c>Namespace.Type.Method</c>.</summary>
    private static string Simplify(string frame)
    {
        var bang = frame.IndexOf('!', StringComparison.Ordinal);
        var name = bang >= 0 ? frame[(bang + 1)..] : frame;
        var paren = name.IndexOf('(', StringComparison.Ordinal);
        return paren > 0 ? name[..paren] : name;
    }
}

/// <summary>Threads that share a blocking frame and the first frame of our code.</summary>
public sealed record ThreadGroup(string TopFrame, string OwnFrame, int Threads);
