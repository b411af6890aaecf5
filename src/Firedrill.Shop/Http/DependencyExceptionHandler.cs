using Firedrill.Shop.Data;
using Firedrill.Shop.Features.Inventory;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Mvc;

namespace Firedrill.Shop.Http;

/// <summary>
/// A dependency that could not answer is a 503 for the caller, not a 500: inventory down or shed,
/// no pooled database connection within <c>Db:AcquireTimeoutSeconds</c>, or the database unreachable
/// (<see cref="ShopDatabase.OpenConnectionAsync"/>'s breaker open) (logged, so the
/// problem's trace id finds the reason in the logs).
/// </summary>
internal sealed partial class DependencyExceptionHandler(IProblemDetailsService problems, ILogger<DependencyExceptionHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        ProblemDetails problem;
        if (exception is InventoryUnavailableException unavailable)
        {
            problem = new ProblemDetails { Title = "Inventory unavailable", Detail = unavailable.Message };
        }
        else if (ShopDatabase.IsPoolTimeout(exception))
        {
            LogPoolTimeout(httpContext.Request.Method, httpContext.Request.Path, exception.Message);
            problem = new ProblemDetails
            {
                Title = "Database busy",
                Detail = "No database connection came free in time; retry shortly.",
            };
        }
        else if (exception is DatabaseUnreachableException)
        {
            LogDatabaseUnreachable(httpContext.Request.Method, httpContext.Request.Path);
            problem = new ProblemDetails
            {
                Title = "Database unavailable",
                Detail = "The database could not be reached in the last moments; retry shortly.",
            };
        }
        else
        {
            return false;
        }

        problem.Status = StatusCodes.Status503ServiceUnavailable;
        httpContext.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
        // Not this request's fault: tell the client when to try again rather than leave it to guess (RFC 9110 §10.2.3).
        httpContext.Response.Headers.RetryAfter = "1";
        return await problems.TryWriteAsync(new ProblemDetailsContext { HttpContext = httpContext, ProblemDetails = problem, Exception = exception });
    }

    [LoggerMessage(EventId = 5001, Level = LogLevel.Warning, Message = "{Method} {Path} answered 503: no pooled database connection within the acquisition timeout ({Reason})")]
    private partial void LogPoolTimeout(string method, string path, string reason);

    [LoggerMessage(EventId = 5003, Level = LogLevel.Warning, Message = "{Method} {Path} answered 503: the database was unreachable, opens are failing fast for a moment")]
    private partial void LogDatabaseUnreachable(string method, string path);
}
