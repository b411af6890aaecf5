using System.Reflection;
using Dapper;
using DbUp;
using Npgsql;
using Polly;
using Polly.Retry;

namespace Firedrill.Shop.Data;

/// <summary>
/// Brings the database to the current schema (DbUp, embedded scripts in <c>Data/Migrations</c>)
/// and seeds an empty catalogue. Replicas start together, so both steps run under one
/// PostgreSQL advisory lock: the first replica migrates and seeds, the others find it done.
/// </summary>
internal sealed partial class DatabaseInitializer(ShopDatabase database, TimeProvider time, ILogger<DatabaseInitializer> logger)
{
    // An arbitrary constant naming "the shop's schema" among advisory locks.
    private const long MigrationLockKey = 0x46495245_44524C4C;

    public const int SeedProducts = 1_000;
    public const int SeedCustomers = 100;

    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        // Db:AcquireTimeoutSeconds also bounds opening a physical connection (Npgsql's Timeout), and a
        // pool deliberately sized with a short one can meet a database that answers a starting replica
        // slower than that (a busy server loading the type catalogue): try again rather than crash the start.
        var firstConnection = new ResiliencePipelineBuilder { TimeProvider = time }
            .AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = new PredicateBuilder().Handle<NpgsqlException>(ex => ex.InnerException is TimeoutException),
                MaxRetryAttempts = 4,
                Delay = TimeSpan.FromMilliseconds(500),
                BackoffType = DelayBackoffType.Exponential,
                OnRetry = retry =>
                {
                    LogFirstConnectionRetry(retry.AttemptNumber + 1, retry.Outcome.Exception?.Message);
                    return ValueTask.CompletedTask;
                },
            })
            .Build();
        await using var connection = await firstConnection.ExecuteAsync(token => database.OpenConnectionAsync(token), cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition("SELECT pg_advisory_lock(@key)", new { key = MigrationLockKey }, cancellationToken: cancellationToken));
        try
        {
            Migrate();
            await SeedCatalogueAsync(connection, cancellationToken);
        }
        finally
        {
            await connection.ExecuteAsync(new CommandDefinition("SELECT pg_advisory_unlock(@key)", new { key = MigrationLockKey }, cancellationToken: CancellationToken.None));
        }
    }

    private void Migrate()
    {
        var result = DeployChanges.To.PostgresqlDatabase(database.ConnectionString)
            .WithScriptsEmbeddedInAssembly(Assembly.GetExecutingAssembly(), name => name.Contains(".Data.Migrations.", StringComparison.Ordinal))
            .WithTransactionPerScript()
            .LogToNowhere()
            .Build()
            .PerformUpgrade();
        if (!result.Successful)
        {
            throw new InvalidOperationException($"Migration {result.ErrorScript?.Name} failed: {result.Error.Message}", result.Error);
        }

        foreach (var script in result.Scripts)
        {
            LogMigrationApplied(script.Name);
        }
    }

    private async Task SeedCatalogueAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        var products = await connection.ExecuteScalarAsync<long>(new CommandDefinition("SELECT count(*) FROM products", cancellationToken: cancellationToken));
        if (products > 0)
        {
            return;
        }

        // Deterministic names and prices, so a seeded catalogue is the same on every machine.
        const string Sql = """
            INSERT INTO customers (id, name, email)
            SELECT i, 'Customer ' || i, 'customer' || i || '@example.test' FROM generate_series(1, @customers) AS i;

            INSERT INTO products (id, sku, name, price, stock, updated_at)
            SELECT i,
                   'SKU-' || lpad(i::text, 6, '0'),
                   (ARRAY['Red', 'Blue', 'Green', 'Black', 'White', 'Silver', 'Golden', 'Wooden'])[1 + i % 8] || ' ' ||
                   (ARRAY['Kettle', 'Lamp', 'Chair', 'Mug', 'Backpack', 'Clock', 'Bottle', 'Notebook', 'Speaker', 'Scarf'])[1 + (i / 8) % 10] || ' ' || i,
                   round((5 + (i * 7919 % 9500) / 100.0)::numeric, 2),
                   1000000,
                   @now
            FROM generate_series(1, @products) AS i;
            """;
        await connection.ExecuteAsync(new CommandDefinition(
            Sql, new { customers = SeedCustomers, products = SeedProducts, now = time.GetUtcNow().UtcDateTime }, cancellationToken: cancellationToken));
        LogCatalogueSeeded(SeedProducts, SeedCustomers);
    }

    [LoggerMessage(EventId = 1003, Level = LogLevel.Warning, Message = "The database did not give a first connection in time (attempt {Attempt}: {Reason}); trying again")]
    private partial void LogFirstConnectionRetry(int attempt, string? reason);

    [LoggerMessage(EventId = 1001, Level = LogLevel.Information, Message = "Applied migration {Script}")]
    private partial void LogMigrationApplied(string script);

    [LoggerMessage(EventId = 1002, Level = LogLevel.Information, Message = "Seeded an empty database with {Products} products and {Customers} customers")]
    private partial void LogCatalogueSeeded(int products, int customers);
}
