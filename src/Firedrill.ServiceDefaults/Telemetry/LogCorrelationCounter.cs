using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Firedrill.ServiceDefaults.Telemetry;

/// <summary>
/// Counts the log records the console writes, by whether the line will carry a trace id: JSON lines
/// do when a span is current, free-text lines never do. What a log pipeline's "lines without
/// trace_id" query would show, as a metric the lab can chart.
/// </summary>
internal sealed class LogCorrelationCounter(TraceContextMetrics metrics, IOptionsMonitor<TelemetryOptions> options) : ILoggerProvider
{
    public ILogger CreateLogger(string categoryName) => new Counter(this);

    private void Record() => metrics.Record(options.CurrentValue.LogFormat == LogFormat.Json && Activity.Current is not null);

    public void Dispose()
    {
    }

    private sealed class Counter(LogCorrelationCounter owner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        // The factory's filters (Logging:LogLevel) decide before this is asked, as for the console.
        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            owner.Record();
    }
}
