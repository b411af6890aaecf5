using System.Globalization;
using Firedrill.Lab.Fleet;

namespace Firedrill.Lab.Diagnostics;

/// <summary>A service's own /metrics, read directly (not through Prometheus): for waiting until it is quiet.</summary>
public static class ServiceMetrics
{
    /// <summary>The sum of a series' samples on the service's /metrics now (0 when absent).</summary>
    public static async Task<double> SumAsync(ServiceProcess service, string series, CancellationToken cancellationToken)
    {
        var text = await service.Client.GetStringAsync("/metrics", cancellationToken);
        return text.Split('\n')
            .Where(line => line.StartsWith(series + "{", StringComparison.Ordinal) || line.StartsWith(series + " ", StringComparison.Ordinal))
            .Sum(line => double.TryParse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries) is [_, var value, ..] ? value : "",
                NumberStyles.Float, CultureInfo.InvariantCulture, out var sample) ? sample : 0);
    }

    /// <summary>Polls until <paramref name="series"/> is at most <paramref name="atMost"/>, for up to <paramref name="within"/>; false if it never was.</summary>
    public static async Task<bool> WaitUntilAsync(ServiceProcess service, string series, double atMost, TimeSpan within, TimeProvider time,
        CancellationToken cancellationToken)
    {
        var deadline = time.GetUtcNow() + within;
        do
        {
            if (await SumAsync(service, series, cancellationToken) <= atMost)
            {
                return true;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(200), time, cancellationToken);
        }
        while (time.GetUtcNow() < deadline);

        return false;
    }
}
