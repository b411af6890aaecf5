using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Firedrill.ServiceDefaults.Http;

/// <summary>
/// Collects field errors and turns them into a 400 validation problem (RFC 9457, with an
/// <c>errors</c> map keyed by the field's JSON name).
/// </summary>
public sealed class Validation
{
    private readonly Dictionary<string, string[]> _errors = new(StringComparer.Ordinal);

    public bool IsValid => _errors.Count == 0;

    public Validation Require(bool condition, string field, string message)
    {
        if (!condition && !_errors.ContainsKey(field))
        {
            _errors[field] = [message];
        }

        return this;
    }

    public Validation Money(decimal? value, string field, decimal max)
    {
        Require(value is not null, field, "is required");
        if (value is { } amount)
        {
            Require(amount > 0, field, "must be greater than 0");
            Require(amount <= max, field, $"must be at most {max}");
            Require(decimal.Round(amount, 2) == amount, field, "must have at most 2 decimal places");
        }

        return this;
    }

    public ValidationProblem ToProblem() =>
        TypedResults.ValidationProblem(
            _errors,
            detail: string.Join("; ", _errors.Select(error => $"{error.Key} {string.Join(", ", error.Value)}")),
            title: "Invalid request");
}

/// <summary>The problem responses every service answers with, so they read the same everywhere.</summary>
public static class Problems
{
    public static ProblemHttpResult NotFound(string detail) =>
        TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "Not found", detail: detail);

    public static ProblemHttpResult Conflict(string title, string detail) =>
        TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: title, detail: detail);

    public static ProblemHttpResult Unavailable(string detail) =>
        TypedResults.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "Service unavailable", detail: detail);
}
