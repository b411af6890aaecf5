using System.Diagnostics;
using System.Globalization;

namespace Firedrill.Lab.Fleet;

/// <summary>
/// A PostgreSQL cluster of the fleet's own (Debian's <c>initdb</c> and <c>pg_ctl</c>, a temporary
/// folder, a free loopback port, trust authentication on loopback, fsync off: throwaway data), for
/// the faults that stop or restart the server itself. The machine's shared server hosts every other
/// fleet and must never be restarted. PostgreSQL refuses to run as root, so as root the cluster runs
/// as the <c>postgres</c> user. It stops with the fleet, and with the lab if the lab is killed.
/// </summary>
public sealed class PrivatePostgres : IAsyncDisposable
{
    private const string Admin = "firedrill";

    private readonly string _folder;
    private readonly string _bin;

    private PrivatePostgres(string folder, string bin, int port) => (_folder, _bin, Port) = (folder, bin, port);

    public int Port { get; }

    /// <summary>The admin connection string (the fleet creates its database through it).</summary>
    public string AdminConnection => $"Host=127.0.0.1;Port={Port};Username={Admin};Database=postgres;SSL Mode=Disable";

    private string Data => Path.Combine(_folder, "data");

    private string LogFile => Path.Combine(_folder, "postgres.log");

    public static async Task<PrivatePostgres> StartAsync(CancellationToken cancellationToken)
    {
        var bin = Directory.GetDirectories("/usr/lib/postgresql").Select(version => Path.Combine(version, "bin"))
            .Where(folder => File.Exists(Path.Combine(folder, "initdb")))
            .OrderByDescending(folder => int.TryParse(Path.GetFileName(Path.GetDirectoryName(folder)), out var major) ? major : 0)
            .FirstOrDefault() ?? throw new InvalidOperationException("initdb was not found under /usr/lib/postgresql; run eng/engines.sh, which installs PostgreSQL.");
        var folder = Directory.CreateTempSubdirectory("firedrill-postgres-").FullName;
        var postgres = new PrivatePostgres(folder, bin, LoopbackPorts.Free());
        try
        {
            if (IsRoot)
            {
                await RunAsync("chown", ["postgres:postgres", folder], cancellationToken);
            }

            await postgres.PgAsync("initdb", ["-D", postgres.Data, "-U", Admin, "--auth=trust", "-E", "UTF8", "--no-sync", "--no-instructions"], cancellationToken);
            await postgres.StartServerAsync(cancellationToken);
            return postgres;
        }
        catch
        {
            await postgres.DisposeAsync();
            throw;
        }
    }

    /// <summary>Stops the server as an operator or a failover does (<c>pg_ctl stop -m fast</c>: every session is ended).</summary>
    public Task StopServerAsync(CancellationToken cancellationToken) =>
        PgAsync("pg_ctl", ["-D", Data, "-m", "fast", "-w", "stop"], cancellationToken);

    /// <summary>Starts the server again on the same port, with its data.</summary>
    public async Task StartServerAsync(CancellationToken cancellationToken)
    {
        await PgAsync("pg_ctl", ["-D", Data, "-l", LogFile, "-w", "-t", "30", "-o",
            string.Create(CultureInfo.InvariantCulture, $"-p {Port} -k {_folder} -c listen_addresses=127.0.0.1 -c shared_preload_libraries=pg_stat_statements -c fsync=off -c max_connections=200"),
            "start"], cancellationToken);
        var postmaster = int.Parse(File.ReadLines(Path.Combine(Data, "postmaster.pid")).First(), CultureInfo.InvariantCulture);
        Prometheus.LabWatch.StopWhenLabDies(postmaster);
    }

    public async ValueTask DisposeAsync()
    {
        if (!Directory.Exists(_folder))
        {
            return;
        }

        try
        {
            if (File.Exists(Path.Combine(Data, "postmaster.pid")))
            {
                await PgAsync("pg_ctl", ["-D", Data, "-m", "immediate", "-w", "stop"], CancellationToken.None);
            }
        }
        catch (InvalidOperationException)
        {
            // Already stopped.
        }

        Directory.Delete(_folder, recursive: true);
    }

    private static bool IsRoot => Environment.UserName == "root";

    private Task PgAsync(string tool, IReadOnlyList<string> arguments, CancellationToken cancellationToken) =>
        IsRoot
            ? RunAsync("runuser", ["-u", "postgres", "--", Path.Combine(_bin, tool), .. arguments], cancellationToken)
            : RunAsync(Path.Combine(_bin, tool), arguments, cancellationToken);

    private static async Task RunAsync(string file, IReadOnlyList<string> arguments, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(file, arguments) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{file} could not be started");
        var output = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var error = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{Path.GetFileName(file)} {string.Join(' ', arguments)} failed ({process.ExitCode}): {(await error).Trim()} {(await output).Trim()}");
        }
    }
}
