using System.Security.Cryptography;
using Npgsql;
using StackExchange.Redis;

namespace Firedrill.Lab.Fleet;

/// <summary>
/// Each replica's own PostgreSQL role and Redis user, so the lab can cut one replica off its
/// database or Redis for real while the others keep theirs (FACTS.md, "Cutting one replica off"):
/// <c>ALTER ROLE … NOLOGIN</c> plus <c>pg_terminate_backend</c> of its sessions, and
/// <c>ACL SETUSER … off</c> plus <c>CLIENT KILL USER</c>. A replica's role is a member of the lab's
/// role and acts as it (<c>ALTER ROLE … SET role</c>), so every replica reads and writes the same
/// tables, owned by the lab's role, whoever migrated them. Names start with the fleet's database
/// name; everything created here is removed when the fleet stops.
/// </summary>
public sealed class ReplicaIdentities : IAsyncDisposable
{
    private readonly string _postgresAdmin;
    private readonly string _redis;
    private readonly string _prefix;
    private readonly string _actAs;
    private readonly ConnectionMultiplexer _redisAdmin;
    private readonly PrivateRedis _privateRedis;
    private readonly Dictionary<string, Identity> _identities = [];
    private readonly Dictionary<string, (CancellationTokenSource Stop, Task Loop)> _sweeps = [];

    /// <summary>One replica's names (the PostgreSQL role and the Redis user are the same) and its password.</summary>
    public sealed record Identity(string Replica, string Name, string Password);

    private ReplicaIdentities(string postgresAdmin, PrivateRedis redis, string prefix, ConnectionMultiplexer redisAdmin)
    {
        (_postgresAdmin, _privateRedis, _redis, _prefix, _redisAdmin) = (postgresAdmin, redis, redis.Address, prefix, redisAdmin);
        _actAs = new NpgsqlConnectionStringBuilder(postgresAdmin).Username
            ?? throw new InvalidOperationException("The PostgreSQL admin connection has no Username.");
    }

    /// <summary>The fleet's Redis (its own: see <see cref="PrivateRedis"/>), where the replicas' users live.</summary>
    public PrivateRedis Redis => _privateRedis;

    public static async Task<ReplicaIdentities> CreateAsync(string postgresAdmin, string database, string logFolder, CancellationToken cancellationToken)
    {
        var redis = await PrivateRedis.StartAsync(Path.Combine(logFolder, "redis.log"), cancellationToken);
        var options = ConfigurationOptions.Parse(redis.AdminConnection);
        options.AllowAdmin = true;
        options.AbortOnConnectFail = true;
        var admin = await ConnectionMultiplexer.ConnectAsync(options);
        cancellationToken.ThrowIfCancellationRequested();
        var identities = new ReplicaIdentities(postgresAdmin, redis, database, admin);
        await identities.PostgresAsync(DropOrphans, cancellationToken);
        return identities;
    }

    /// <summary>
    /// Roles of fleets whose lab was killed before it could drop them: a replica role whose
    /// database no longer exists. (A running fleet creates its database before its roles.)
    /// </summary>
    private const string DropOrphans = """
        DO $$
        DECLARE orphan record;
        BEGIN
          FOR orphan IN SELECT r.rolname FROM pg_roles r
            WHERE r.rolname LIKE 'firedrill\_run\_%\_shop\_%'
              AND NOT EXISTS (SELECT 1 FROM pg_database d WHERE r.rolname LIKE d.datname || '\_shop\_%')
          LOOP
            BEGIN
              EXECUTE format('DROP ROLE %I', orphan.rolname);
            EXCEPTION WHEN others THEN NULL; -- in use after all: the next fleet tries again
            END;
          END LOOP;
        END
        $$;
        """;

    /// <summary>The replica's identity, created on first use (a restarted replica keeps its own).</summary>
    public async Task<Identity> ForAsync(string replica, CancellationToken cancellationToken)
    {
        lock (_identities)
        {
            if (_identities.TryGetValue(replica, out var known))
            {
                return known;
            }
        }

        var identity = new Identity(replica, $"{_prefix}_{replica.Replace('-', '_')}", Convert.ToHexString(RandomNumberGenerator.GetBytes(16)));
        await PostgresAsync($"""
            CREATE ROLE "{identity.Name}" LOGIN PASSWORD '{identity.Password}' IN ROLE "{_actAs}";
            ALTER ROLE "{identity.Name}" SET role = '{_actAs}';
            """, cancellationToken);
        // Its own keys and channel only: the shop's keys and pub/sub channel start with firedrill:<database>:.
        await RedisAsync("ACL", "SETUSER", identity.Name, "reset", "on", $">{identity.Password}", $"~firedrill:{_prefix}:*", "&*", "+@all");
        lock (_identities)
        {
            _identities[replica] = identity;
        }

        return identity;
    }

    public static string PostgresConnection(Identity identity, string databaseConnection) =>
        new NpgsqlConnectionStringBuilder(databaseConnection) { Username = identity.Name, Password = identity.Password }.ConnectionString;

    public string RedisConnection(Identity identity) => $"{_redis},user={identity.Name},password={identity.Password}";

    /// <summary>
    /// The replica's role may no longer log in, and its sessions are terminated: its database is gone
    /// for it alone. The sessions are terminated again every <see cref="SweepPeriod"/> until
    /// <see cref="RestoreDatabaseAsync"/>: a backend that passed its login check just before
    /// <c>NOLOGIN</c> committed is listed in pg_stat_activity only once it finished starting, which on a
    /// busy machine can be well after a single pass (measured: a replica kept three sessions and stayed
    /// healthy through a whole cut).
    /// </summary>
    public async Task CutDatabaseAsync(string replica, CancellationToken cancellationToken)
    {
        var name = Known(replica).Name;
        await PostgresAsync($"""ALTER ROLE "{name}" NOLOGIN;""", cancellationToken);
        await PostgresAsync(TerminateSessions(name), cancellationToken);
        var sweep = new CancellationTokenSource();
        lock (_sweeps)
        {
            _sweeps[replica] = (sweep, Task.Run(() => SweepAsync(name, sweep.Token), CancellationToken.None));
        }
    }

    /// <summary>Lets the replica's role log in again (and stops terminating its sessions).</summary>
    public async Task RestoreDatabaseAsync(string replica, CancellationToken cancellationToken)
    {
        (CancellationTokenSource Stop, Task Loop) sweep;
        lock (_sweeps)
        {
            _sweeps.Remove(replica, out sweep);
        }

        if (sweep.Stop is not null)
        {
            await sweep.Stop.CancelAsync();
            await sweep.Loop;
            sweep.Stop.Dispose();
        }

        await PostgresAsync($"""ALTER ROLE "{Known(replica).Name}" LOGIN;""", cancellationToken);
    }

    private static readonly TimeSpan SweepPeriod = TimeSpan.FromMilliseconds(250);

    private static string TerminateSessions(string role) =>
        $"SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE usename = '{role}';";

    private async Task SweepAsync(string role, CancellationToken cancellationToken)
    {
        try
        {
            while (true)
            {
                await Task.Delay(SweepPeriod, cancellationToken);
                try
                {
                    await PostgresAsync(TerminateSessions(role), cancellationToken);
                }
                catch (NpgsqlException)
                {
                    // The server is busy or refusing the lab for a moment: the next pass tries again.
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Restored.
        }
    }

    /// <summary>The replica's Redis user is disabled and its connections killed: Redis is gone for it alone.</summary>
    public async Task CutRedisAsync(string replica)
    {
        var name = Known(replica).Name;
        await RedisAsync("ACL", "SETUSER", name, "off");
        foreach (var server in _redisAdmin.GetServers())
        {
            await server.ExecuteAsync("CLIENT", "KILL", "USER", name);
        }
    }

    public Task RestoreRedisAsync(string replica) => RedisAsync("ACL", "SETUSER", Known(replica).Name, "on");

    private Identity Known(string replica)
    {
        lock (_identities)
        {
            return _identities.TryGetValue(replica, out var identity)
                ? identity
                : throw new InvalidOperationException($"{replica} has no identity of its own; start the fleet with FleetOptions.ReplicaIdentities.");
        }
    }

    private async Task PostgresAsync(string sql, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(_postgresAdmin);
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private async Task RedisAsync(string command, params object[] arguments) => await _redisAdmin.GetDatabase().ExecuteAsync(command, arguments);

    /// <summary>Drops every role and user this fleet created; call after the fleet's database is gone (no session left).</summary>
    public async ValueTask DisposeAsync()
    {
        List<(CancellationTokenSource Stop, Task Loop)> sweeps;
        lock (_sweeps)
        {
            sweeps = [.. _sweeps.Values];
            _sweeps.Clear();
        }

        foreach (var (stop, loop) in sweeps)
        {
            await stop.CancelAsync();
            await loop;
            stop.Dispose();
        }

        List<Identity> identities;
        lock (_identities)
        {
            identities = [.. _identities.Values];
        }

        foreach (var identity in identities)
        {
            try
            {
                await RedisAsync("ACL", "DELUSER", identity.Name);
                await PostgresAsync($"""DROP ROLE IF EXISTS "{identity.Name}";""", CancellationToken.None);
            }
            catch (Exception ex) when (ex is NpgsqlException or RedisException)
            {
                // Best effort: a leftover role or user is named for its run and can log in nowhere that still exists.
            }
        }

        await _redisAdmin.DisposeAsync();
        await _privateRedis.DisposeAsync();
    }
}
