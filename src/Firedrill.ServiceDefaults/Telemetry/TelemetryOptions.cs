using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace Firedrill.ServiceDefaults.Telemetry;

/// <summary>How a service's logs and traces are joined to the requests that caused them.</summary>
public sealed class TelemetryOptions
{
    public const string SectionName = "Telemetry";

    /// <summary>
    /// Send W3C <c>traceparent</c> on outbound HTTP (the gateway's forwarded requests, every
    /// <c>IHttpClientFactory</c> client). False is the uncorrelated-logs incident's
    /// "dropped-context": each service downstream starts a trace of its own.
    /// </summary>
    public bool PropagateTraceContext { get; set; } = true;

    /// <summary>
    /// JSON lines carrying TraceId and SpanId, or <see cref="LogFormat.Text"/>: one free-text line per
    /// record, no ids — the uncorrelated-logs incident's "free-text-logs".
    /// </summary>
    [EnumDataType(typeof(LogFormat))]
    public LogFormat LogFormat { get; set; } = LogFormat.Json;

    /// <summary>
    /// A file to append every finished span to, one JSON object per line (read at start): a
    /// stand-in for a tracing backend, which <c>firedrill trace ID --tree</c> draws. Empty: none.
    /// </summary>
    public string? SpansFile { get; set; }
}

public enum LogFormat
{
    /// <summary>One JSON object per line, with the TraceId and SpanId of the current span.</summary>
    Json,

    /// <summary>One line of free text per record: time, level, category, message. Nothing to join it by.</summary>
    Text,
}

[OptionsValidator]
internal sealed partial class TelemetryOptionsValidator : IValidateOptions<TelemetryOptions>;
