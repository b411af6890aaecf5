using System.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;

namespace Firedrill.ServiceDefaults.Errors;

internal static class ProblemDetailsExtensions
{
    /// <summary>One shape for every error: RFC 9457 problem details carrying the trace id.</summary>
    public static IServiceCollection AddFiredrillProblemDetails(this IServiceCollection services)
    {
        services.AddProblemDetails(options => options.CustomizeProblemDetails = context =>
        {
            var activity = context.HttpContext.Features.Get<IHttpActivityFeature>()?.Activity ?? Activity.Current;
            context.ProblemDetails.Extensions["traceId"] = activity?.TraceId.ToString() ?? context.HttpContext.TraceIdentifier;
            context.ProblemDetails.Instance ??= context.HttpContext.Request.Path;
        });
        services.AddExceptionHandler<BadRequestExceptionHandler>();
        services.Configure<Microsoft.AspNetCore.Routing.RouteHandlerOptions>(options => options.ThrowOnBadRequest = true);
        // Bodies are read strictly: a property no endpoint declares (mass assignment, OWASP API3:2023)
        // or one given twice (JSON parameter pollution: which copy wins differs between parsers) is a
        // 400 naming it, never silently dropped or overwritten.
        services.ConfigureHttpJsonOptions(options =>
        {
            options.SerializerOptions.UnmappedMemberHandling = System.Text.Json.Serialization.JsonUnmappedMemberHandling.Disallow;
            options.SerializerOptions.AllowDuplicateProperties = false;
        });
        return services;
    }
}
