using Firedrill.Lab.Fleet;
using Firedrill.Lab.Tests.Support;

namespace Firedrill.Lab.Tests.Fleet;

public sealed class PostgresExporterTests
{
    [Fact]
    public async Task StartAsync_RunDatabase_ExportsItsSessionsAndStatements()
    {
        await using var database = await Engines.CreateDatabaseAsync();
        var exporter = await PostgresExporter.StartAsync(database.ConnectionString, LabDefaults.TempFolder(), CancellationToken.None);
        var pid = exporter.Pid;
        try
        {
            using var http = new HttpClient();
            var metrics = await http.GetStringAsync(new Uri($"http://{exporter.Address}/metrics"));

            Assert.Contains("pg_up 1", metrics, StringComparison.Ordinal);
            // The queries scoped to the run's database, every session state present.
            Assert.Contains($"pg_run_activity_count{{datname=\"{database.Name}\"", metrics, StringComparison.Ordinal);
            Assert.Contains("state=\"idle in transaction\"", metrics, StringComparison.Ordinal);
            // pg_stat_statements exists in every new database (template1 has it).
            Assert.Contains("pg_run_statements_calls{", metrics, StringComparison.Ordinal);
            Assert.Contains("pg_locks_count{", metrics, StringComparison.Ordinal);
        }
        finally
        {
            await exporter.DisposeAsync();
        }

        Assert.False(LabDefaults.IsRunning(pid), $"postgres_exporter (pid {pid}) outlived its owner");
    }

    [Fact]
    public void DataSourceName_PasswordWithReservedCharacters_IsPercentEncoded()
    {
        var dsn = PostgresExporter.DataSourceName("Host=127.0.0.1;Port=5432;Username=firedrill;Password=a@b/c:d;Database=run_1;SSL Mode=Disable");

        Assert.Equal("postgresql://firedrill:a%40b%2Fc%3Ad@127.0.0.1:5432/run_1?sslmode=disable", dsn);
    }
}
