using System.Diagnostics;
using System.Globalization;
using System.Runtime.Loader;
using System.Security.Cryptography;
using System.Text;
using Npgsql;

namespace Firedrill.Lab.Fleet;

/// <summary>
/// A production-sized database — a million orders with their lines, ten thousand customers —
/// seeded once per schema version into a template database with the shop's own
/// <c>seed --orders</c> (binary COPY, constant memory), so a run copies it
/// (<c>CREATE DATABASE … TEMPLATE … STRATEGY FILE_COPY</c>, seconds) instead of paying for a
/// million inserts. The template's name carries a hash of the shop's migrations and of the seed's
/// shape: a new migration means a new template. Connections to it are disallowed once built,
/// because PostgreSQL copies a template only while nobody is connected to it.
/// </summary>
public static class OrdersTemplate
{
    public const int Orders = 1_000_000;
    public const int Customers = 10_000;

    // Bump when BulkSeeder changes the data it writes.
    private const string SeedShape = "bulk-seeder-v1";

    // An arbitrary constant naming "the orders template is being built" among advisory locks.
    private const long BuildLockKey = 0x46524454_504C4F52;

    /// <summary>The template's name for the shop as built now.</summary>
    public static string Name() => $"firedrill_tpl_orders_{Version()}";

    /// <summary>
    /// The template, built first if this schema version has none. The first build takes a few
    /// minutes (progress is reported); one process builds while the others wait for it.
    /// </summary>
    public static async Task<string> EnsureAsync(string postgresAdmin, string logFolder, IProgress<string>? progress, CancellationToken cancellationToken)
    {
        var name = Name();
        await using var admin = new NpgsqlConnection(postgresAdmin);
        await admin.OpenAsync(cancellationToken);
        if (await ExistsAsync(admin, name, cancellationToken))
        {
            return name;
        }

        progress?.Report($"orders template {name}: waiting for the build lock");
        await ExecuteAsync(admin, $"SELECT pg_advisory_lock({BuildLockKey})", cancellationToken);
        try
        {
            if (await ExistsAsync(admin, name, cancellationToken))
            {
                return name;
            }

            var started = Stopwatch.GetTimestamp();
            // A build that died half-way leaves its database behind; start clean.
            var building = name + "_build";
            await ExecuteAsync(admin, $"DROP DATABASE IF EXISTS \"{building}\" WITH (FORCE)", cancellationToken);
            await ExecuteAsync(admin, $"CREATE DATABASE \"{building}\"", cancellationToken);
            progress?.Report($"orders template {name}: seeding {Orders:N0} orders for {Customers:N0} customers (once per schema version; a few minutes)");
            await SeedAsync(new NpgsqlConnectionStringBuilder(postgresAdmin) { Database = building }.ConnectionString, logFolder, progress, cancellationToken);
            NpgsqlConnection.ClearAllPools();
            // The seeder's sessions end as its process exits; the rename waits until the server has seen them go.
            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    await ExecuteAsync(admin, $"ALTER DATABASE \"{building}\" RENAME TO \"{name}\"", cancellationToken);
                    break;
                }
                catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.ObjectInUse && attempt < 50)
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(200), cancellationToken);
                }
            }

            await ExecuteAsync(admin, $"ALTER DATABASE \"{name}\" WITH ALLOW_CONNECTIONS false", cancellationToken);
            progress?.Report(string.Create(CultureInfo.InvariantCulture,
                $"orders template {name}: built in {Stopwatch.GetElapsedTime(started).TotalSeconds:0} s"));
            return name;
        }
        finally
        {
            await ExecuteAsync(admin, $"SELECT pg_advisory_unlock({BuildLockKey})", CancellationToken.None);
        }
    }

    /// <summary>Copies the template into <paramref name="database"/>: file by file, about two seconds for the half gigabyte.</summary>
    public static Task CloneAsync(NpgsqlConnection admin, string template, string database, CancellationToken cancellationToken) =>
        ExecuteAsync(admin, $"CREATE DATABASE \"{database}\" TEMPLATE \"{template}\" STRATEGY FILE_COPY", cancellationToken);

    /// <summary>The shop's <c>seed</c> command against the database being built, its progress lines passed on.</summary>
    private static async Task SeedAsync(string database, string logFolder, IProgress<string>? progress, CancellationToken cancellationToken)
    {
        var dll = ServiceProcess.DllPath("Firedrill.Shop");
        var start = new ProcessStartInfo("dotnet", [dll, "seed", "--orders", Orders.ToString(CultureInfo.InvariantCulture), "--customers", Customers.ToString(CultureInfo.InvariantCulture)])
        {
            WorkingDirectory = Path.GetDirectoryName(dll)!,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.Environment["ConnectionStrings__Postgres"] = database;
        start.Environment["Logging__LogLevel__Default"] = "Warning";
        // COPY's completion (foreign-key checks of two million lines, indexes) can outlast the shop's 30 s command timeout on a busy machine.
        start.Environment["Db__CommandTimeoutSeconds"] = "600";
        Directory.CreateDirectory(logFolder);
        await using var log = new StreamWriter(Path.Combine(logFolder, "orders-template-seed.log"), append: true) { AutoFlush = true };
        using var process = Process.Start(start) ?? throw new InvalidOperationException("Could not start the shop's seed command.");
        void Line(string? line)
        {
            if (line is null)
            {
                return;
            }

            lock (log)
            {
                log.WriteLine(line);
            }

            if (line.StartsWith("seed: ", StringComparison.Ordinal))
            {
                progress?.Report("orders template: " + line[6..]);
            }
        }

        process.OutputDataReceived += (_, e) => Line(e.Data);
        process.ErrorDataReceived += (_, e) => Line(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            await process.WaitForExitAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"Seeding the orders template failed (exit code {process.ExitCode}); see {Path.Combine(logFolder, "orders-template-seed.log")}.");
        }
    }

    /// <summary>A hash of the shop's migrations (embedded in its assembly) and of the seed's shape.</summary>
    private static string Version()
    {
        var context = new AssemblyLoadContext("firedrill-shop-migrations", isCollectible: true);
        try
        {
            // Only its resources are read: nothing of the shop's runs in the lab.
            var shop = context.LoadFromAssemblyPath(ServiceProcess.DllPath("Firedrill.Shop"));
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            hash.AppendData(Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{SeedShape}|{Orders}|{Customers}")));
            foreach (var resource in shop.GetManifestResourceNames().Where(name => name.Contains(".Data.Migrations.", StringComparison.Ordinal)).Order(StringComparer.Ordinal))
            {
                using var stream = shop.GetManifestResourceStream(resource)!;
                using var memory = new MemoryStream();
                stream.CopyTo(memory);
                hash.AppendData(Encoding.UTF8.GetBytes(resource));
                hash.AppendData(memory.ToArray());
            }

            return Convert.ToHexStringLower(hash.GetHashAndReset())[..12];
        }
        finally
        {
            context.Unload();
        }
    }

    private static async Task<bool> ExistsAsync(NpgsqlConnection admin, string name, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = @name)", admin);
        command.Parameters.AddWithValue("name", name);
        return (bool)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    private static async Task ExecuteAsync(NpgsqlConnection admin, string sql, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, admin) { CommandTimeout = 600 };
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
