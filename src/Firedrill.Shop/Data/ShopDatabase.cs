using Microsoft.Extensions.Options;
using Npgsql;
using Polly;
using Polly.CircuitBreaker;

namespace Firedrill.Shop.Data;

/// <summary>
/// The shop's one <see cref="NpgsqlDataSource"/>. A pool's size is fixed when it is built, so when
/// the lab changes <see cref="DbOptions"/> a new data source replaces the old one; the old pool is
/// disposed once the requests holding its connections have had time to finish. Opening a
/// connection goes through a circuit breaker (<see cref="OpenConnectionAsync"/>).
/// </summary>
internal sealed class ShopDatabase : IDisposable
{
    private static readonly TimeSpan RetiredPoolGrace = TimeSpan.FromSeconds(30);

    private readonly string _connectionString;
    private readonly string _applicationName;
    private readonly ILoggerFactory _loggers;
    private readonly TimeProvider _time;
    private readonly Observability.ShopMetrics _metrics;
    private readonly IDisposable? _subscription;
    private NpgsqlDataSource _current;
    private int _generation;

    /// <summary>
    /// SqlClient's pool blocking period, which Npgsql has not: once half the opens of the last 2 s
    /// (4 at least) failed to reach the database (refused, login denied, timed out connecting; not
    /// the pool's own acquisition timeout), opens fail at once for 1 s, then one is tried. Every
    /// failed open is a backend PostgreSQL forked for nothing, one at a time (22–37 ms each on
    /// the 2-core lab machines): with every request trying its own while the database is away, the
    /// attempts queue at the postmaster, hold the pool's slots while they wait, and starve the
    /// replica (deep-liveness's fixed phase: liveness unanswered, 10% of requests failing after the
    /// database was back).
    /// </summary>
    private readonly ResiliencePipeline _opens = new ResiliencePipelineBuilder()
        .AddCircuitBreaker(new CircuitBreakerStrategyOptions
        {
            ShouldHandle = new PredicateBuilder().Handle<NpgsqlException>(exception => !IsPoolTimeout(exception)),
            FailureRatio = 0.5,
            MinimumThroughput = 4,
            SamplingDuration = TimeSpan.FromSeconds(2),
            BreakDuration = TimeSpan.FromSeconds(1),
        })
        .Build();

    public ShopDatabase(IConfiguration configuration, IOptionsMonitor<DbOptions> options, ILoggerFactory loggers, TimeProvider time, Observability.ShopMetrics metrics)
    {
        _connectionString = configuration.GetConnectionString("Postgres")
            ?? throw new InvalidOperationException("ConnectionStrings:Postgres is not set; run eng/engines.sh, which writes it to .firedrill/engines.env.");
        _applicationName = "firedrill-shop " + (configuration["Lab:InstanceId"] ?? Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture));
        _loggers = loggers;
        _time = time;
        _metrics = metrics;
        _current = Build(options.CurrentValue);
        _subscription = options.OnChange(Rebuild);
    }

    public NpgsqlDataSource DataSource => Volatile.Read(ref _current);

    /// <summary>
    /// A pooled connection; how long it took to get is recorded (<c>firedrill_db_connection_wait_time_seconds</c>).
    /// Throws <see cref="DatabaseUnreachableException"/> at once while the database has been unreachable (<see cref="_opens"/>).
    /// </summary>
    public async ValueTask<NpgsqlConnection> OpenConnectionAsync(CancellationToken cancellationToken)
    {
        var started = _time.GetTimestamp();
        try
        {
            var connection = await _opens.ExecuteAsync(static (database, token) => database.DataSource.OpenConnectionAsync(token), this, cancellationToken);
            _metrics.ConnectionWait(_time.GetElapsedTime(started), acquired: true);
            return connection;
        }
        catch (NpgsqlException ex) when (IsPoolTimeout(ex))
        {
            _metrics.ConnectionWait(_time.GetElapsedTime(started), acquired: false);
            throw;
        }
        catch (BrokenCircuitException open)
        {
            // An NpgsqlException, so every caller that copes with a database error copes with this one.
            throw new DatabaseUnreachableException(open);
        }
    }

    /// <summary>Npgsql's "the connection pool has been exhausted" after the acquisition timeout: no connection came free in time.</summary>
    public static bool IsPoolTimeout(Exception exception) =>
        exception is NpgsqlException { InnerException: TimeoutException } && exception.Message.Contains("pool", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// The database's name: it namespaces this shop's Redis keys and channels, so replicas of one
    /// database share a cache while a fresh database never sees another run's entries.
    /// </summary>
    public string DatabaseName => new NpgsqlConnectionStringBuilder(_connectionString).Database ?? "postgres";

    /// <summary>The connection string as configured, for tools that manage databases (migrations, tests).</summary>
    public string ConnectionString => DataSource.ConnectionString;

    private NpgsqlDataSource Build(DbOptions options)
    {
        var connection = new NpgsqlConnectionStringBuilder(_connectionString)
        {
            MaxPoolSize = options.MaxPoolSize,
            Timeout = options.AcquireTimeoutSeconds,
            CommandTimeout = options.CommandTimeoutSeconds,
            MaxAutoPrepare = options.MaxAutoPrepare,
            ApplicationName = _applicationName,
            // No session state is left on a connection (no SET, no temp tables, no LISTEN; the
            // migration's advisory lock is released explicitly), so skip the reset Npgsql otherwise
            // sends when a pooled connection is reused: measured in bench/.
            NoResetOnClose = true,
            // Kept so migrations and the bulk seeder can open their own connections.
            PersistSecurityInfo = true,
        };
        var builder = new NpgsqlDataSourceBuilder(connection.ConnectionString).UseLoggerFactory(_loggers);
        // Npgsql's metrics tag each pool with its name, by default the connection string. DbUp's own
        // pool (the migrations) shares that string, and two pools under one name overwrite each
        // other's gauges: the shop's pool looked idle while every connection was in use. A name of
        // its own per generation keeps a rebuilt pool apart from the one it retires.
        builder.Name = $"{_applicationName} pool {Interlocked.Increment(ref _generation)}";
        return builder.Build();
    }

    private void Rebuild(DbOptions options)
    {
        var current = DataSource;
        var builder = new NpgsqlConnectionStringBuilder(current.ConnectionString);
        if (builder.MaxPoolSize == options.MaxPoolSize && builder.Timeout == options.AcquireTimeoutSeconds
            && builder.CommandTimeout == options.CommandTimeoutSeconds && builder.MaxAutoPrepare == options.MaxAutoPrepare)
        {
            return;
        }

        var retired = Interlocked.Exchange(ref _current, Build(options));
        _ = Task.Delay(RetiredPoolGrace, _time).ContinueWith(_ => retired.Dispose(), TaskScheduler.Default);
    }

    public void Dispose()
    {
        _subscription?.Dispose();
        DataSource.Dispose();
    }
}

/// <summary>An open refused without trying: the database was unreachable moments ago (<see cref="ShopDatabase.OpenConnectionAsync"/>).</summary>
internal sealed class DatabaseUnreachableException(BrokenCircuitException open)
    : NpgsqlException("The database was unreachable moments ago; opens fail at once for a moment before one is tried again.", open)
{
    public override bool IsTransient => true;
}
