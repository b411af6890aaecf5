using Npgsql;

namespace Firedrill.Testing;

/// <summary>
/// The real engines the tests use: the connection strings <c>eng/engines.sh</c> wrote, from the
/// environment or from <c>.firedrill/engines.env</c> at the repository root.
/// </summary>
public static class Engines
{
    private static readonly Lazy<(string Postgres, string Redis)> Settings = new(Load);

    public static string Postgres => Settings.Value.Postgres;

    public static string Redis => Settings.Value.Redis;

    /// <summary>Creates an empty database of its own for a test class; dispose drops it.</summary>
    public static async Task<TestDatabase> CreateDatabaseAsync()
    {
        var name = $"firedrill_test_{Guid.NewGuid():N}";
        await using (var admin = new NpgsqlConnection(Postgres))
        {
            await admin.OpenAsync();
            await using var create = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", admin);
            await create.ExecuteNonQueryAsync();
        }

        return new TestDatabase(name, new NpgsqlConnectionStringBuilder(Postgres) { Database = name }.ConnectionString);
    }

    private static (string, string) Load()
    {
        var postgres = Environment.GetEnvironmentVariable("ConnectionStrings__Postgres");
        var redis = Environment.GetEnvironmentVariable("ConnectionStrings__Redis");
        if (postgres is null || redis is null)
        {
            var file = FindEnvFile() ?? throw new InvalidOperationException(
                "No engine settings: run eng/engines.sh (it starts PostgreSQL and Redis and writes .firedrill/engines.env).");
            foreach (var line in File.ReadAllLines(file))
            {
                var assignment = line.StartsWith("export ", StringComparison.Ordinal) ? line[7..] : line;
                var equals = assignment.IndexOf('=', StringComparison.Ordinal);
                if (equals < 0)
                {
                    continue;
                }

                var value = assignment[(equals + 1)..].Trim('\'');
                switch (assignment[..equals])
                {
                    case "ConnectionStrings__Postgres": postgres ??= value; break;
                    case "ConnectionStrings__Redis": redis ??= value; break;
                }
            }
        }

        return (postgres ?? throw new InvalidOperationException("ConnectionStrings__Postgres is not set."),
                redis ?? throw new InvalidOperationException("ConnectionStrings__Redis is not set."));
    }

    private static string? FindEnvFile()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            var candidate = Path.Combine(directory.FullName, ".firedrill", "engines.env");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }
}

public sealed class TestDatabase(string name, string connectionString) : IAsyncDisposable
{
    public string Name { get; } = name;

    public string ConnectionString { get; } = connectionString;

    public async Task<T?> ScalarAsync<T>(string sql)
    {
        await using var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        var value = await command.ExecuteScalarAsync();
        return value is null or DBNull ? default : (T)Convert.ChangeType(value, typeof(T), System.Globalization.CultureInfo.InvariantCulture);
    }

    public Task ExecuteAsync(string sql) => ScalarAsync<object>(sql);

    public async ValueTask DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        await using var admin = new NpgsqlConnection(Engines.Postgres);
        await admin.OpenAsync();
        await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{Name}\" WITH (FORCE)", admin);
        await drop.ExecuteNonQueryAsync();
    }
}
