using System.Diagnostics;
using System.Text;
using Npgsql;

namespace Firedrill.Lab.Scenarios;

/// <summary>
/// What an engineer would capture by hand during the incident — psql, curl, dotnet-stack — run
/// for real by the lab, and kept with the exact command line beside what it printed
/// (<see cref="Evidence"/>). Secrets travel in the environment (PGPASSWORD), never in the
/// command shown. Each command is bounded in time and its output in length.
/// </summary>
public sealed class EvidenceCapture(string databaseConnection, string runFolder)
{
    private const int MaxLines = 80;
    private const int MaxChars = 12_000;
    private static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(30);

    private readonly List<Evidence> _items = [];
    private readonly NpgsqlConnectionStringBuilder _database = new(databaseConnection);

    public IReadOnlyList<Evidence> Items
    {
        get
        {
            lock (_items)
            {
                return [.. _items];
            }
        }
    }

    /// <summary>Keeps evidence the lab produced itself (a request matrix, say), with the command a user would type to see it.</summary>
    public Evidence Add(string name, string phase, string command, string output)
    {
        var evidence = new Evidence(name, phase, command, Truncate(output));
        lock (_items)
        {
            _items.Add(evidence);
        }

        return evidence;
    }

    /// <summary>
    /// Runs <paramref name="command"/> with bash, as a user would paste it, and keeps it with its
    /// output (stdout and stderr as they came). A command that fails is still evidence: its
    /// exit code is noted.
    /// </summary>
    /// <param name="run">What actually runs, when the command shown is its user-facing form (<c>./firedrill</c> for the lab's dll).</param>
    public async Task<Evidence> ShellAsync(string name, string phase, string command, IReadOnlyDictionary<string, string>? environment = null,
        TimeSpan? timeout = null, string? run = null, CancellationToken cancellationToken = default)
    {
        var start = new ProcessStartInfo("bash", ["-c", run ?? command])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = runFolder,
        };
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value;
        }

        var output = new StringBuilder();
        using var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, line) => Append(output, line.Data);
        process.ErrorDataReceived += (_, line) => Append(output, line.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using var bound = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bound.CancelAfter(timeout ?? DefaultTimeout);
        try
        {
            await process.WaitForExitAsync(bound.Token);
            // The last lines may still be in the redirect's buffers.
            process.WaitForExit();
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            process.Kill(entireProcessTree: true);
            Append(output, $"(stopped after {(timeout ?? DefaultTimeout).TotalSeconds:0} s)");
        }

        if (process.HasExited && process.ExitCode != 0)
        {
            Append(output, $"(exit code {process.ExitCode})");
        }

        string text;
        lock (output)
        {
            text = output.ToString().TrimEnd();
        }

        return Add(name, phase, command, text);
    }

    /// <summary>
    /// Runs the lab's own CLI (<c>./firedrill trace ID</c>, say) against this run's folder, as a user
    /// would after the run, and keeps what it printed.
    /// </summary>
    public Task<Evidence> FiredrillAsync(string name, string phase, IReadOnlyList<string> arguments, CancellationToken cancellationToken = default)
    {
        // runs/<run>/<scenario>: the CLI finds the run through runs/latest.
        var runsRoot = Path.GetDirectoryName(Path.GetDirectoryName(Path.GetFullPath(runFolder)))!;
        var lab = Path.Combine(AppContext.BaseDirectory, "firedrill.dll");
        var shown = "./firedrill " + string.Join(' ', arguments.Select(Word));
        return ShellAsync(name, phase, shown, new Dictionary<string, string> { ["FIREDRILL_RUNS"] = runsRoot },
            run: $"dotnet {Quote(lab)} {string.Join(' ', arguments.Select(Quote))}", cancellationToken: cancellationToken);
    }

    /// <summary>Runs <paramref name="sql"/> through psql against the run's database, as a DBA would.</summary>
    public Task<Evidence> PsqlAsync(string name, string phase, string sql, CancellationToken cancellationToken = default) =>
        ShellAsync(name, phase, $"{PsqlCommand} -c {Quote(sql.ReplaceLineEndings(" ").Trim())}", PsqlEnvironment, cancellationToken: cancellationToken);

    /// <summary><c>psql</c> with the run's database, user and address (the password is in PGPASSWORD).</summary>
    public string PsqlCommand =>
        $"psql -X -P pager=off -h {_database.Host} -p {_database.Port} -U {_database.Username} -d {_database.Database}";

    public IReadOnlyDictionary<string, string> PsqlEnvironment => new Dictionary<string, string> { ["PGPASSWORD"] = _database.Password ?? "" };

    private static string Word(string text) => text.All(c => char.IsAsciiLetterOrDigit(c) || "-_./:=".Contains(c, StringComparison.Ordinal)) ? text : Quote(text);

    /// <summary>
    /// A word for bash, as a person would write it: in double quotes when nothing inside is special
    /// there (SQL with its single-quoted strings reads as typed), otherwise single-quoted with its
    /// own single quotes closed, escaped and reopened.
    /// </summary>
    public static string Quote(string text) =>
        text.IndexOfAny(['"', '$', '`', '\\', '!']) < 0
            ? "\"" + text + "\""
            : "'" + text.Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    private static void Append(StringBuilder output, string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (output)
        {
            output.Append(line).Append('\n');
        }
    }

    private static string Truncate(string output)
    {
        var lines = output.ReplaceLineEndings("\n").Split('\n');
        var kept = new StringBuilder();
        var count = 0;
        foreach (var line in lines)
        {
            if (count == MaxLines || kept.Length + line.Length > MaxChars)
            {
                return kept.Append(System.Globalization.CultureInfo.InvariantCulture, $"... ({lines.Length - count} more lines)").ToString();
            }

            kept.Append(line).Append('\n');
            count++;
        }

        return kept.ToString().TrimEnd('\n');
    }
}
