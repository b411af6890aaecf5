using Microsoft.Extensions.Logging;

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
}
