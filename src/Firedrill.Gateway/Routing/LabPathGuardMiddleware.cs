namespace Firedrill.Gateway.Routing;

/// <summary>
/// The lab control endpoint is never reachable through the gateway: a proxied request with a
/// <c>_lab</c> path segment gets 404 and never reaches a replica. A replica sees the gateway as a
/// loopback caller, so the token (stripped as well) would be all that stood in the way.
/// </summary>
internal sealed class LabPathGuardMiddleware(RequestDelegate next, ILogger<LabPathGuardMiddleware> logger)
{
    private const string LabSegment = "_lab";

    public async Task InvokeAsync(HttpContext context)
    {
        if (TargetsLab(context.Request.Path))
        {
            GatewayLog.LabPathRefused(logger, context.Request.Path.Value ?? "");
            await GatewayProblems.WriteAsync(context, StatusCodes.Status404NotFound, "Not Found");
            return;
        }

        await next(context);
    }

    /// <summary>
    /// Any segment, in any case, after one more round of percent-decoding than Kestrel did: YARP
    /// forwards valid escapes as they are, so <c>%255Flab</c> arrives here as <c>%5Flab</c> and
    /// at the replica as <c>_lab</c>. Empty segments (<c>//_lab</c>) and backslashes are no way round it.
    /// </summary>
    internal static bool TargetsLab(PathString path)
    {
        var decoded = Uri.UnescapeDataString(path.Value ?? "");
        foreach (var segment in decoded.Split('/', '\\'))
        {
            if (segment.Equals(LabSegment, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }
}
