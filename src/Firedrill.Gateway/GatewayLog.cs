using Microsoft.Extensions.Logging;
using Yarp.ReverseProxy.Forwarder;

namespace Firedrill.Gateway;

internal static partial class GatewayLog
{
    [LoggerMessage(EventId = 8001, Level = LogLevel.Warning, Message = "Refused {Path}: the lab control endpoint is never proxied")]
    public static partial void LabPathRefused(ILogger logger, string path);

    [LoggerMessage(EventId = 8002, Level = LogLevel.Information, Message = "Refused a request with {HeaderBytes} bytes of headers (limit {Limit})")]
    public static partial void HeadersTooLarge(ILogger logger, long headerBytes, int limit);

    [LoggerMessage(EventId = 8003, Level = LogLevel.Information, Message = "Refused a request body over {Limit} bytes (declared length {ContentLength})")]
    public static partial void BodyTooLarge(ILogger logger, long limit, long? contentLength);

    [LoggerMessage(EventId = 8004, Level = LogLevel.Debug, Message = "Rate limited {Client} ({PermitsPerSecond}/s, burst {Burst})")]
    public static partial void RateLimited(ILogger logger, string client, int permitsPerSecond, int burst);

    [LoggerMessage(EventId = 8005, Level = LogLevel.Warning, Message = "{Method} {Path} timed out waiting for {Destination}")]
    public static partial void TimedOut(ILogger logger, string method, string path, string? destination);

    /// <summary>
    /// One line per request the gateway could not forward, without the exception's stack: YARP's own
    /// warning formats the whole async stack of every failure, and with a replica gone that cost,
    /// paid on the request threads, starved the gateway's thread pool until every request timed out.
    /// </summary>
    [LoggerMessage(EventId = 8006, Level = LogLevel.Warning, Message = "{Method} {Path} not forwarded to {Destination}: {Error} ({ExceptionType}: {ExceptionMessage})")]
    public static partial void ForwardFailed(ILogger logger, string method, string path, string? destination, ForwarderError error, string? exceptionType, string? exceptionMessage);
}
