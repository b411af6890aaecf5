using Microsoft.AspNetCore.Mvc;

namespace Firedrill.Gateway;

/// <summary>Answers the gateway gives itself, in the same RFC 9457 shape as every Firedrill error.</summary>
internal static class GatewayProblems
{
    public static async Task WriteAsync(HttpContext context, int status, string title, string? detail = null)
    {
        context.Response.StatusCode = status;
        var problems = context.RequestServices.GetRequiredService<IProblemDetailsService>();
        await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = context,
            ProblemDetails = new ProblemDetails { Status = status, Title = title, Detail = detail },
        });
    }
}
