namespace Firedrill.Lab.Prometheus;

/// <summary>Finds the Debian <c>prometheus</c> binary: an explicit path, else <c>PATH</c>, else <c>/usr/bin</c>.</summary>
internal static class PrometheusBinary
{
    private const string Name = "prometheus";
    private const string DebianPath = "/usr/bin/prometheus";

    public static string Resolve(string? configured)
    {
        if (configured is not null)
        {
            return File.Exists(configured) ? Path.GetFullPath(configured) : throw PrometheusNotFoundException.At(configured);
        }

        var path = Environment.GetEnvironmentVariable("PATH") ?? string.Empty;
        foreach (var folder in path.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(folder, Name);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        // A minimal PATH (a service manager's, a sanitised CI step's) may lack /usr/bin; the Debian package is still there.
        return File.Exists(DebianPath) ? DebianPath : throw new PrometheusNotFoundException();
    }
}
