using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Firedrill.Lab.Diagnostics;

/// <summary>
/// A <c>dotnet-gcdump report</c> read back: the heap's total and, per type, bytes (object size × count) and objects.
/// The tool induces a full collection to walk the heap, so the totals are the live heap.
/// </summary>
public sealed partial record HeapReport(long Bytes, long Objects, IReadOnlyDictionary<string, (long Bytes, long Count)> Types)
{
    public static HeapReport Parse(string report)
    {
        long bytes = 0, objects = 0;
        var types = new Dictionary<string, (long Bytes, long Count)>(StringComparer.Ordinal);
        foreach (var line in report.ReplaceLineEndings("\n").Split('\n'))
        {
            if (Total().Match(line) is { Success: true } total)
            {
                var value = Number(total.Groups["value"].Value);
                if (total.Groups["what"].Value == "bytes")
                {
                    bytes = value;
                }
                else
                {
                    objects = value;
                }
            }
            else if (Row().Match(line) is { Success: true } row)
            {
                // The tool splits big objects into size buckets ("(Bytes > 10K)"); a type is one row here.
                // Its first column is the size of one object (the average, in a bucket), so a type's bytes are size × count.
                var type = Bucket().Replace(row.Groups["type"].Value, "").Trim();
                var (sum, count) = types.GetValueOrDefault(type);
                var instances = Number(row.Groups["count"].Value);
                types[type] = (sum + Number(row.Groups["bytes"].Value) * instances, count + instances);
            }
        }

        return new HeapReport(bytes, objects, types);
    }

    /// <summary>Types that grew from <paramref name="before"/> to this report, by bytes added, the largest first.</summary>
    public IReadOnlyList<TypeGrowth> GrowthSince(HeapReport before) =>
        Types.Select(entry =>
            {
                var (oldBytes, oldCount) = before.Types.GetValueOrDefault(entry.Key);
                return new TypeGrowth(entry.Key, entry.Value.Bytes - oldBytes, entry.Value.Count - oldCount, entry.Value.Count);
            })
            .Where(growth => growth.Bytes > 0)
            .OrderByDescending(growth => growth.Bytes)
            .ToList();

    /// <summary>The growth as a table, as an engineer writes it up: the top types, and the shop's own types among them.</summary>
    public static string Table(IReadOnlyList<TypeGrowth> growth, int top)
    {
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"{"bytes added",14} {"objects added",14} {"objects now",12}  type");
        var shown = growth.Take(top).Concat(growth.Where(type => type.Type.Contains("Firedrill.", StringComparison.Ordinal)).Take(5)).Distinct();
        foreach (var type in shown)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"{type.Bytes,14:N0} {type.Count,14:N0} {type.Now,12:N0}  {type.Type}");
        }

        return text.ToString().TrimEnd();
    }

    private static long Number(string text) => long.Parse(text, NumberStyles.AllowThousands, CultureInfo.InvariantCulture);

    [GeneratedRegex(@"^\s*(?<value>[\d,]+)\s+GC Heap (?<what>bytes|objects)\s*$")]
    private static partial Regex Total();

    [GeneratedRegex(@"^\s*(?<bytes>[\d,]+)\s+(?<count>[\d,]+)\s+(?<type>.+?)\s+\[[^\]]+\]\s*$")]
    private static partial Regex Row();

    [GeneratedRegex(@"\s*\(Bytes > [\d.]+[KM]?\)")]
    private static partial Regex Bucket();
}

/// <summary>How much of one type a heap gained between two snapshots.</summary>
public sealed record TypeGrowth(string Type, long Bytes, long Count, long Now);
