using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace Firedrill.Lab.Faults.Support;

/// <summary>One payment event as it sits on the topic.</summary>
internal sealed record TopicEvent(int Partition, long Offset, string EventId, long PaymentId, long OrderId);

/// <summary>
/// Reads the payments topic from its beginning to its end with <c>kcat</c>, a reader that shares
/// nothing with the shop (no consumer group, no offsets, not even the client library's binding):
/// what it prints is what Kafka holds.
/// </summary>
internal static class TopicReader
{
    /// <summary>The command as a user would type it (the address is the fleet's mock cluster).</summary>
    public static string Command(string bootstrap, string topic) =>
        $"kcat -b {bootstrap} -C -t {topic} -o beginning -e -q -f '%p\\t%o\\t%s\\n'";

    public static async Task<IReadOnlyList<TopicEvent>> ReadAsync(string bootstrap, string topic, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo("kcat", ["-b", bootstrap, "-C", "-t", topic, "-o", "beginning", "-e", "-q", "-f", "%p\t%o\t%s\n"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(start) ?? throw new InvalidOperationException("could not start kcat (apt-get install kcat)");
        var output = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var errors = process.StandardError.ReadToEndAsync(cancellationToken);
        using var bound = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bound.CancelAfter(TimeSpan.FromSeconds(30));
        try
        {
            await process.WaitForExitAsync(bound.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException("kcat did not reach the end of the topic within 30 s");
        }

        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"kcat failed ({process.ExitCode}): {(await errors).Trim()}");
        }

        var events = new List<TopicEvent>();
        foreach (var line in (await output).Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var fields = line.Split('\t', 3);
            if (fields.Length < 3)
            {
                continue;
            }

            if (!IsPaymentEvent(fields[2]))
            {
                // A poison message (fault 5): on the topic, but no payment event.
                continue;
            }

            using var json = JsonDocument.Parse(fields[2]);
            var root = json.RootElement;
            events.Add(new TopicEvent(int.Parse(fields[0], CultureInfo.InvariantCulture), long.Parse(fields[1], CultureInfo.InvariantCulture),
                root.GetProperty("eventId").GetString()!, root.GetProperty("paymentId").GetInt64(), root.GetProperty("orderId").GetInt64()));
        }

        return events;
    }

    private static bool IsPaymentEvent(string value)
    {
        try
        {
            using var json = JsonDocument.Parse(value);
            return json.RootElement.ValueKind == JsonValueKind.Object
                && json.RootElement.TryGetProperty("eventId", out var id) && id.ValueKind == JsonValueKind.String && id.GetString()!.StartsWith("payment-", StringComparison.Ordinal)
                && json.RootElement.TryGetProperty("paymentId", out var payment) && payment.ValueKind == JsonValueKind.Number && payment.GetInt64() > 0
                && json.RootElement.TryGetProperty("orderId", out var order) && order.ValueKind == JsonValueKind.Number;
        }
        catch (JsonException)
        {
            return false;
        }
    }
}
