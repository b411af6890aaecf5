using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Mvc;

namespace Firedrill.Shop.Http;

/// <summary>
/// The last handler: whatever nothing else handled is a 500 problem (no exception text leaves
/// the shop), logged once with its type and the shop's own frame in the message, so
/// <c>firedrill trace &lt;traceId&gt;</c> of the problem's trace id names the bug without
/// opening the stack trace (the whole exception is in the log line too).
/// </summary>
internal sealed partial class UnhandledExceptionHandler(IProblemDetailsService problems, ILogger<UnhandledExceptionHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        // A wrapper's message (Dapper's DataException, say) hides the cause: name the innermost exception too.
        var root = exception.GetBaseException();
        var reason = ReferenceEquals(root, exception) ? exception.Message : $"{exception.Message} <- {root.GetType().FullName}: {root.Message}";
        LogUnhandled(exception.GetType().FullName ?? exception.GetType().Name, ShopFrame(exception), httpContext.Request.Method, httpContext.Request.Path, reason, exception);
        httpContext.Response.StatusCode = StatusCodes.Status500InternalServerError;
        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = httpContext,
            ProblemDetails = new ProblemDetails { Status = StatusCodes.Status500InternalServerError, Title = "An unexpected error occurred" },
            Exception = exception,
        });
    }

    /// <summary>The innermost frame in Firedrill's code, as the stack trace prints it ("Type.Method(args)"): where the shop met the failure.</summary>
    internal static string ShopFrame(Exception exception)
    {
        foreach (var line in (exception.StackTrace ?? "").Split('\n'))
        {
            var frame = line.Trim();
            if (frame.StartsWith("at Firedrill.", StringComparison.Ordinal))
            {
                var source = frame.IndexOf(" in ", StringComparison.Ordinal);
                return (source < 0 ? frame : frame[..source])[3..];
            }
        }

        return "(no frame in Firedrill's code)";
    }

    [LoggerMessage(EventId = 5000, Level = LogLevel.Error, Message = "{Method} {Path} failed with {ExceptionType} at {Frame}: {Reason}")]
    private partial void LogUnhandled(string exceptionType, string frame, string method, string path, string reason, Exception exception);
}
