using System.Globalization;
using System.Text.Json;

namespace Firedrill.Bench.Harness;

/// <summary>What wrk measured: requests, seconds, non-2xx/3xx answers, socket errors, latency percentiles.</summary>
public sealed record WrkResult(long Requests, double Seconds, long Non2xx, long SocketErrors, double P50Ms, double P99Ms, CpuSplit? Cpu)
{
    public double Rps => Requests / Seconds;
}

/// <summary>
/// wrk (Debian's package), one thread, a fixed number of connections. A Lua script can shape the
/// requests; every script ends with a <c>done</c> hook that prints wrk's own numbers as JSON.
/// </summary>
internal static class Wrk
{
    private const string Marker = "FIREDRILL ";

    private const string Done = """
        done = function(summary, latency, requests)
          local e = summary.errors
          io.write(string.format('\nFIREDRILL {"requests":%d,"durationUs":%d,"non2xx":%d,"socketErrors":%d,"p50Us":%.1f,"p99Us":%.1f}\n',
            summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
            latency:percentile(50), latency:percentile(99)))
        end
        """;

    /// <summary>POST /payments with a unique Idempotency-Key per request and a random existing order.</summary>
    public static string PaymentsScript(int orders, string runId) => $$"""
        local counter = 0
        local threads = 0
        setup = function(thread) threads = threads + 1; thread:set("tid", threads) end
        request = function()
          counter = counter + 1
          local body = '{"orderId":' .. math.random(1, {{orders}}) .. ',"amount":10.00,"currency":"EUR"}'
          return wrk.format("POST", "/payments",
            {["Content-Type"] = "application/json", ["Idempotency-Key"] = "wrk-{{runId}}-" .. tid .. "-" .. counter}, body)
        end
        """;

    /// <summary>Each connection waits <paramref name="delayMs"/> after an answer before its next request: a paced, lightly loaded run.</summary>
    public static string PacedScript(double delayMs) =>
        "delay = function() return " + delayMs.ToString("0.###", CultureInfo.InvariantCulture) + " end\n";

    public static async Task<WrkResult> RunAsync(
        Uri url, int connections, TimeSpan duration, string? script, CpuMeter? cpu, CancellationToken cancellationToken)
    {
        var file = Path.Combine(Path.GetTempPath(), $"firedrill-wrk-{Guid.NewGuid():N}.lua");
        await File.WriteAllTextAsync(file, (script ?? "") + "\n" + Done, cancellationToken);
        try
        {
            var output = await Tool.RunAsync("wrk",
                ["-t1", $"-c{connections}", $"-d{(int)Math.Round(duration.TotalSeconds)}s", "--timeout", "10s", "-s", file, url.ToString()],
                duration, cpu, cancellationToken);
            var line = output.StandardOutput.Split('\n').LastOrDefault(l => l.StartsWith(Marker, StringComparison.Ordinal))
                ?? throw new InvalidOperationException($"wrk printed no result: {output.StandardOutput} {output.StandardError}");
            var json = JsonDocument.Parse(line[Marker.Length..]).RootElement;
            return new WrkResult(
                json.GetProperty("requests").GetInt64(),
                json.GetProperty("durationUs").GetDouble() / 1e6,
                json.GetProperty("non2xx").GetInt64(),
                json.GetProperty("socketErrors").GetInt64(),
                json.GetProperty("p50Us").GetDouble() / 1000,
                json.GetProperty("p99Us").GetDouble() / 1000,
                output.Cpu);
        }
        finally
        {
            File.Delete(file);
        }
    }
}
