using System.Buffers;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;

namespace Firedrill.Gateway.Limits;

/// <summary>
/// 431 for oversize headers and 413 for an oversize body, decided before anything is forwarded,
/// so a refused request never reaches a replica. Runs in the proxy pipeline only: the gateway's
/// own endpoints (health, metrics, lab control) keep Kestrel's limits.
/// </summary>
internal sealed class RequestSizeLimitsMiddleware(
    RequestDelegate next, IOptionsMonitor<GatewayOptions> options, ILogger<RequestSizeLimitsMiddleware> logger)
{
    public async Task InvokeAsync(HttpContext context)
    {
        var limits = options.CurrentValue;

        var headerBytes = MeasureHeaders(context.Request.Headers);
        if (headerBytes > limits.MaxRequestHeadersTotalBytes)
        {
            GatewayLog.HeadersTooLarge(logger, headerBytes, limits.MaxRequestHeadersTotalBytes);
            await GatewayProblems.WriteAsync(context, StatusCodes.Status431RequestHeaderFieldsTooLarge, "Request headers too large",
                $"The request headers are {headerBytes} bytes; the limit is {limits.MaxRequestHeadersTotalBytes}.");
            return;
        }

        if (!await WithinBodyLimitAsync(context, limits.MaxRequestBodyBytes))
        {
            GatewayLog.BodyTooLarge(logger, limits.MaxRequestBodyBytes, context.Request.ContentLength);
            // The rest of the body is still on the wire: close the connection rather than read it
            // (Kestrel cannot drain past the limit and would drop the connection under a client
            // about to reuse it).
            context.Response.Headers.Connection = "close";
            await GatewayProblems.WriteAsync(context, StatusCodes.Status413PayloadTooLarge, "Request body too large",
                $"The request body is larger than the limit of {limits.MaxRequestBodyBytes} bytes.");
            return;
        }

        await next(context);
    }

    private static long MeasureHeaders(IHeaderDictionary headers)
    {
        long total = 0;
        foreach (var (name, values) in headers)
        {
            total += name.Length;
            foreach (var value in values)
            {
                total += value?.Length ?? 0;
            }
        }

        return total;
    }

    private static async Task<bool> WithinBodyLimitAsync(HttpContext context, long limit)
    {
        var request = context.Request;
        var size = context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } feature ? feature : null;
        if (request.ContentLength is { } length)
        {
            // Kestrel holds the client to its Content-Length; the feature is a second line.
            size?.MaxRequestBodySize = limit;
            return length <= limit;
        }

        if (context.Features.Get<IHttpRequestBodyDetectionFeature>()?.CanHaveBody != true)
        {
            return true;
        }

        // A body of unknown length (chunked) is buffered (memory, then a temporary file) before it
        // is forwarded, as nginx's proxy_request_buffering does: streaming it would start the
        // request at the replica and then cut it off half-way once the limit is crossed. It is
        // counted here rather than by Kestrel, whose count includes the chunk framing and so
        // would refuse bodies just under the limit.
        size?.MaxRequestBodySize = null;
        request.EnableBuffering();
        var buffer = ArrayPool<byte>.Shared.Rent(16 * 1024);
        try
        {
            long total = 0;
            int read;
            while ((read = await request.Body.ReadAsync(buffer, context.RequestAborted)) > 0)
            {
                total += read;
                if (total > limit)
                {
                    return false;
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        request.Body.Position = 0;
        return true;
    }
}
