using System.Text.Json;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;

namespace Firedrill.ServiceDefaults.Errors;

/// <summary>
/// Turns request-binding failures (malformed JSON, a wrong type, an unparsable route or query
/// value) into a 400 problem that names the field. Minimal APIs throw these as
/// <see cref="BadHttpRequestException"/> because <c>RouteHandlerOptions.ThrowOnBadRequest</c> is on.
/// </summary>
internal sealed class BadRequestExceptionHandler(IProblemDetailsService problems) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        if (exception is not BadHttpRequestException badRequest)
        {
            return false;
        }

        var (field, detail) = Describe(badRequest);
        httpContext.Response.StatusCode = badRequest.StatusCode;
        var problem = new ProblemDetails
        {
            Status = badRequest.StatusCode,
            Title = badRequest.StatusCode == StatusCodes.Status400BadRequest ? "Invalid request" : null,
            Detail = detail,
        };
        if (field is not null)
        {
            problem.Extensions["field"] = field;
        }

        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = httpContext,
            ProblemDetails = problem,
            Exception = exception,
        });
    }

    private static (string? Field, string Detail) Describe(BadHttpRequestException exception)
    {
        if (exception.InnerException is JsonException json)
        {
            var field = json.Path is { Length: > 1 } path ? path.TrimStart('$', '.') : null;
            return field is null
                ? (null, "The request body is not valid JSON.")
                : (field, $"The request body has an invalid value for '{field}'.");
        }

        // "Failed to bind parameter "long id" from "abc"." names the parameter already.
        return (null, exception.Message);
    }
}
