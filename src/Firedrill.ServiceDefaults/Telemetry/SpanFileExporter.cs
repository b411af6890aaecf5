using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Serialization;
using OpenTelemetry;

namespace Firedrill.ServiceDefaults.Telemetry;

/// <summary>One finished span as <see cref="SpanFileExporter"/> writes it, one JSON object per line.</summary>
public sealed record SpanRecord(
    [property: JsonPropertyName("trace")] string Trace,
    [property: JsonPropertyName("span")] string Span,
    [property: JsonPropertyName("parent")] string? Parent,
    [property: JsonPropertyName("service")] string Service,
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("kind")] string Kind,
    [property: JsonPropertyName("start")] DateTime Start,
    [property: JsonPropertyName("ms")] double Milliseconds,
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("detail")] string? Detail);

/// <summary>
/// Appends every finished span to a file (<see cref="TelemetryOptions.SpansFile"/>): a stand-in for
/// a tracing backend on a machine without one, written by OpenTelemetry's batch processor off the
/// request path. <c>firedrill trace ID --tree</c> reads these files to draw a trace's waterfall.
/// </summary>
internal sealed class SpanFileExporter : BaseExporter<Activity>
{
    private const int MaxDetail = 80;
    private static readonly string[] DetailTags = ["http.response.status_code", "url.full", "db.query.text", "db.statement", "messaging.batch.message_count"];

    private readonly StreamWriter _writer;
    private readonly string _service;

    public SpanFileExporter(string path, string service)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        _writer = new StreamWriter(new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite));
        _service = service;
    }

    public override ExportResult Export(in Batch<Activity> batch)
    {
        foreach (var activity in batch)
        {
            var record = new SpanRecord(activity.TraceId.ToHexString(), activity.SpanId.ToHexString(),
                activity.ParentSpanId == default ? null : activity.ParentSpanId.ToHexString(), _service, activity.DisplayName,
                activity.Kind.ToString().ToLowerInvariant(), activity.StartTimeUtc, Math.Round(activity.Duration.TotalMilliseconds, 3),
                activity.Status.ToString(), Detail(activity));
            _writer.WriteLine(JsonSerializer.Serialize(record));
        }

        _writer.Flush();
        return ExportResult.Success;
    }

    private static string? Detail(Activity activity)
    {
        var parts = DetailTags.Select(tag => activity.GetTagItem(tag)).OfType<object>().Select(value => Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture)).ToList();
        if (parts.Count == 0)
        {
            return null;
        }

        var detail = string.Join(" ", parts).ReplaceLineEndings(" ");
        return detail.Length <= MaxDetail ? detail : detail[..MaxDetail] + "…";
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _writer.Dispose();
        }

        base.Dispose(disposing);
    }
}
