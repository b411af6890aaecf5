using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http.Timeouts;
using Yarp.ReverseProxy.Forwarder;
using Yarp.ReverseProxy.Model;

namespace Firedrill.Gateway.Routing;

/// <summary>
/// Makes the gateway's own failures honest problem details and leaves the replicas' answers alone.
/// </summary>
internal sealed class ProxyErrorsMiddleware(RequestDelegate next, ILogger<ProxyErrorsMiddleware> logger)
{
    public async Task InvokeAsync(HttpContext context)
    {
        await next(context);

        if (context.Features.Get<IForwarderErrorFeature>() is not { } failure)
        {
            // A replica's response (even an error with an empty body) passes through unchanged.
            if (context.Features.Get<IStatusCodePagesFeature>() is { } pages)
            {
                pages.Enabled = false;
            }

            return;
        }

        // YARP's own warning for this is off (appsettings.json): it carries the whole stack.
        // UseStatusCodePages turns YARP's empty 502/503 answers into problems.
        var destination = context.Features.Get<IReverseProxyFeature>()?.ProxiedDestination?.Model.Config.Address;
        if (context.Features.Get<IHttpRequestTimeoutFeature>() is { RequestTimeoutToken.IsCancellationRequested: true }
            && !context.Response.HasStarted)
        {
            // YARP takes the timeout's cancellation for a cancelled request (400) and does not
            // rethrow it, so RequestTimeoutsMiddleware never answers: the gateway timed out waiting
            // for the replica, which is a 504. UseStatusCodePages writes the problem body.
            GatewayLog.TimedOut(logger, context.Request.Method, context.Request.Path.Value ?? "", destination);
            context.Response.Clear();
            context.Response.StatusCode = StatusCodes.Status504GatewayTimeout;
            return;
        }

        GatewayLog.ForwardFailed(logger, context.Request.Method, context.Request.Path.Value ?? "", destination,
            failure.Error, failure.Exception?.GetType().Name, failure.Exception?.Message);
    }
}
