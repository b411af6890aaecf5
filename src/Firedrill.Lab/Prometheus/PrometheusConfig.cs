using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Firedrill.Lab.Prometheus;

/// <summary>
/// The files Prometheus reads: its YAML configuration (1 s scrape and evaluation, one job fed by
/// file-based discovery) and the discovery file, rewritten whenever the fleet changes.
/// </summary>
internal static partial class PrometheusConfig
{
    public const string JobName = "firedrill";

    // Prometheus re-reads the discovery file on change (inotify) and at least this often.
    private const string RefreshInterval = "1s";

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };
    private static readonly UTF8Encoding NoBom = new(encoderShouldEmitUTF8Identifier: false);

    /// <summary>The configuration; JSON string literals are valid YAML double-quoted scalars, so paths need no other escaping.</summary>
    public static string Yaml(string targetsFile) =>
        $"""
        # Written by the Firedrill lab for one run. Targets come from file_sd so the lab changes them without a restart.
        global:
          scrape_interval: 1s
          scrape_timeout: 1s
          evaluation_interval: 1s
        scrape_configs:
          - job_name: {JobName}
            file_sd_configs:
              - files: [{JsonSerializer.Serialize(targetsFile)}]
                refresh_interval: {RefreshInterval}
        """ + "\n";

    /// <summary>The file_sd document: one target group per target, its <c>job</c> label overriding the scrape job's name.</summary>
    public static string TargetsJson(IReadOnlyList<ScrapeTarget> targets)
    {
        var groups = targets.Select(target =>
        {
            Validate(target);
            var labels = new SortedDictionary<string, string>(StringComparer.Ordinal);
            foreach (var (name, value) in target.Labels)
            {
                labels[name] = value;
            }

            // The record's Job is the one the lab means; a "job" in Labels must not silently win.
            labels["job"] = target.Job;
            return new { targets = new[] { target.Address }, labels };
        });
        return JsonSerializer.Serialize(groups, Indented);
    }

    /// <summary>
    /// Replaces the discovery file atomically (a temporary file, then a rename), so Prometheus never
    /// reads a half-written file: it would drop every target until the next refresh.
    /// </summary>
    public static async Task WriteTargetsAsync(string targetsFile, IReadOnlyList<ScrapeTarget> targets, CancellationToken ct)
    {
        var json = TargetsJson(targets);
        // A unique name per write, so concurrent updates never share a temporary file; the last rename wins.
        var temporary = $"{targetsFile}.{Guid.NewGuid():N}.tmp";
        try
        {
            // No byte-order mark: Prometheus's JSON reader rejects it, and with it the whole file.
            await File.WriteAllTextAsync(temporary, json, NoBom, ct);
            File.Move(temporary, targetsFile, overwrite: true);
        }
        finally
        {
            File.Delete(temporary);
        }
    }

    // Prometheus rejects the whole discovery file for one bad target and keeps scraping the old
    // set, logging the reason only to its own log: fail here, where the caller sees it.
    private static void Validate(ScrapeTarget target)
    {
        if (string.IsNullOrWhiteSpace(target.Job))
        {
            throw new ArgumentException("A scrape target needs a job.", nameof(target));
        }

        if (target.Address.Contains("://", StringComparison.Ordinal) || !HostPort().IsMatch(target.Address))
        {
            throw new ArgumentException($"Scrape target address '{target.Address}' is not host:port.", nameof(target));
        }

        foreach (var name in target.Labels.Keys)
        {
            if (!LabelName().IsMatch(name) || name.StartsWith("__", StringComparison.Ordinal))
            {
                throw new ArgumentException($"'{name}' is not a valid Prometheus label name.", nameof(target));
            }
        }
    }

    [GeneratedRegex(@"^(\[[0-9A-Fa-f:.]+\]|[^\s:/\[\]]+):[0-9]{1,5}$")]
    private static partial Regex HostPort();

    [GeneratedRegex("^[a-zA-Z_][a-zA-Z0-9_]*$")]
    private static partial Regex LabelName();
}
