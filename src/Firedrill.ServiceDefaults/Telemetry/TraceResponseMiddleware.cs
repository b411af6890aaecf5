using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Firedrill.ServiceDefaults.Telemetry;

/// <summary>
/// Returns the request's trace to the caller on every response, not only in error bodies:
/// <c>traceresponse: 00-{trace-id}-{span-id}-{flags}</c> (W3C Trace Context Level 2), so whoever
/// holds a response — a customer, a support ticket, a load test — holds the id that finds its log
/// lines. Behind the gateway, the gateway's own header replaces the replica's: the caller gets the
/// id of the trace that began at the edge. Also counts whether the request continued a caller's trace.
/// </summary>
internal sealed class TraceResponseMiddleware(RequestDelegate next, TraceContextMetrics metrics)
{
    public const string HeaderName = "traceresponse";

    public Task InvokeAsync(HttpContext context)
    {
        if (context.Features.Get<IHttpActivityFeature>()?.Activity is { } activity)
        {
            if (!IsOperational(context.Request.Path))
            {
                metrics.Request(activity.HasRemoteParent);
            }

            // Set when the response starts, after a proxied response's headers were copied in.
            context.Response.OnStarting(static state =>
            {
                var (response, activity) = ((HttpResponse, System.Diagnostics.Activity))state;
                response.Headers[HeaderName] = $"00-{activity.TraceId}-{activity.SpanId}-{(activity.Recorded ? "01" : "00")}";
                return Task.CompletedTask;
            }, (context.Response, activity));
        }

        return next(context);
    }

    /// <summary>Probes, scrapes and the lab's control calls are no one's request.</summary>
    private static bool IsOperational(PathString path) =>
        path.StartsWithSegments("/health") || path.StartsWithSegments("/metrics") || path.StartsWithSegments("/_lab");
}
