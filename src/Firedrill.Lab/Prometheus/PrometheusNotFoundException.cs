namespace Firedrill.Lab.Prometheus;

/// <summary>The <c>prometheus</c> binary is not installed; the message says how to install it.</summary>
public sealed class PrometheusNotFoundException : Exception
{
    public const string InstallHint = "run eng/engines.sh or apt-get install -y prometheus";

    public PrometheusNotFoundException()
        : base($"prometheus is not installed: {InstallHint}")
    {
    }

    public PrometheusNotFoundException(string message)
        : base(message)
    {
    }

    public PrometheusNotFoundException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    internal static PrometheusNotFoundException At(string path) =>
        new($"prometheus is not installed (no executable at {path}): {InstallHint}");
}
