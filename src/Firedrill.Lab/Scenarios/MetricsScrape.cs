using System.Globalization;

namespace Firedrill.Lab.Scenarios;

/// <summary>
/// A service's own <c>/metrics</c>, read directly — what <c>curl -s SERVICE/metrics | grep NAME</c>
/// shows — for counts that must be exact at a moment the lab chooses (the start and end of a
/// fault), which Prometheus's once-a-second scrapes can only approximate.
/// </summary>
internal sealed class MetricsScrape(string text)
{
    public static async Task<MetricsScrape> ReadAsync(HttpClient service, CancellationToken cancellationToken) =>
        new(await service.GetStringAsync("/metrics", cancellationToken));

    /// <summary>The sum of every sample of <paramref name="name"/> whose labels contain each of <paramref name="labels"/> (<c>key="value"</c>).</summary>
    public double Sum(string name, params string[] labels)
    {
        var total = 0.0;
        foreach (var line in text.Split('\n'))
        {
            if (!line.StartsWith(name, StringComparison.Ordinal) || line.Length <= name.Length || (line[name.Length] != '{' && line[name.Length] != ' ')
                || !labels.All(label => line.Contains(label, StringComparison.Ordinal)))
            {
                continue;
            }

            var value = line[(line.LastIndexOf(' ') + 1)..];
            if (double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var number))
            {
                total += number;
            }
        }

        return total;
    }
}
