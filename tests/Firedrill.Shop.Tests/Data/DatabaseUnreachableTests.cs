using Dapper;
using Firedrill.Shop.Data;
using Firedrill.Shop.Observability;
using Firedrill.Shop.Tests.Support;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Firedrill.Shop.Tests.Data;

/// <summary>ShopDatabase's opens against a real PostgreSQL that refuses the shop's login (a role without LOGIN, as shallow-health-checks cuts a replica).</summary>
public sealed class DatabaseUnreachableTests : IAsyncLifetime
{
    private readonly string _role = "firedrill_test_nologin_" + Guid.NewGuid().ToString("N")[..12];
    private TestDatabase _database = null!;
    private ServiceProvider _services = null!;

    public async Task InitializeAsync()
    {
        _database = await Engines.CreateDatabaseAsync();
        await using var admin = new NpgsqlConnection(_database.ConnectionString);
        await admin.ExecuteAsync($"CREATE ROLE {_role} NOLOGIN PASSWORD 'not-a-secret'");
        _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
    }

    public async Task DisposeAsync()
    {
        await _services.DisposeAsync();
        await using (var admin = new NpgsqlConnection(_database.ConnectionString))
        {
            await admin.ExecuteAsync($"DROP ROLE IF EXISTS {_role}");
        }

        await _database.DisposeAsync();
    }

    [Fact]
    public async Task OpenConnection_LoginRefusedAgainAndAgain_FailsFastWithoutTryingTheDatabase()
    {
        var refused = new NpgsqlConnectionStringBuilder(_database.ConnectionString) { Username = _role, Password = "not-a-secret" }.ConnectionString;
        using var database = Create(refused);

        // Each of these reaches PostgreSQL and is refused: 28000, the role may not log in. At once, so
        // that all four fall in the breaker's 2 s window however slowly a busy machine forks backends.
        var denied = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ =>
            Assert.ThrowsAsync<PostgresException>(async () => await database.OpenConnectionAsync(CancellationToken.None))));
        Assert.All(denied, refusal => Assert.Equal(PostgresErrorCodes.InvalidAuthorizationSpecification, refusal.SqlState));

        // Then opens fail at once, for a moment, without another backend forked for nothing.
        await Assert.ThrowsAsync<DatabaseUnreachableException>(async () => await database.OpenConnectionAsync(CancellationToken.None));
    }

    private ShopDatabase Create(string connectionString)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["ConnectionStrings:Postgres"] = connectionString }).Build();
        var options = new OptionsMonitor<DbOptions>(new OptionsFactory<DbOptions>([], []), [], new OptionsCache<DbOptions>());
        return new ShopDatabase(configuration, options, NullLoggerFactory.Instance, TimeProvider.System, new ShopMetrics(_services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>()));
    }
}
