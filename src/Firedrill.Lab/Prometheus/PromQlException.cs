namespace Firedrill.Lab.Prometheus;

/// <summary>A PromQL query Prometheus rejected, or whose result is not the shape the caller asked for.</summary>
public sealed class PromQlException : Exception
{
    public PromQlException()
    {
    }

    public PromQlException(string message)
        : base(message)
    {
    }

    public PromQlException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public PromQlException(string query, string problem, Exception? innerException = null)
        : base($"PromQL query failed: {problem}. Query: {query}", innerException)
    {
        Query = query;
    }

    public string? Query { get; }
}
