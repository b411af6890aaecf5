using Npgsql;

namespace Firedrill.Lab.Fleet;

/// <summary>What a fleet is made of; the engines' addresses come from the environment (eng/engines.sh).</summary>
public sealed record FleetOptions
{
    public required string RunFolder { get; init; }

    public required string PostgresAdmin { get; init; }

    public required string Redis { get; init; }

    public int Replicas { get; init; } = 2;

    /// <summary>A real cluster; null hosts the mock cluster in the lab.</summary>
    public string? KafkaBootstrapServers { get; init; }

    public IReadOnlyDictionary<string, string> ShopSettings { get; init; } = new Dictionary<string, string>();

    public IReadOnlyDictionary<string, string> InventorySettings { get; init; } = new Dictionary<string, string>();

    public IReadOnlyDictionary<string, string> GatewaySettings { get; init; } = new Dictionary<string, string>();

    /// <summary>A database to copy instead of starting empty (e.g. <see cref="OrdersTemplate"/>'s million orders).</summary>
    public string? DatabaseTemplate { get; init; }

    /// <summary>Well-known ports (<c>firedrill up</c>); null: any free port for every service.</summary>
    public PortPlan? Ports { get; init; }

    /// <summary>Every service appends its finished spans to logs/NAME.spans.jsonl, which <c>firedrill trace ID --tree</c> draws.</summary>
    public bool RecordSpans { get; init; }

    /// <summary>Each replica gets its own PostgreSQL role and Redis user (<see cref="Fleet.ReplicaIdentities"/>), so one can be cut off.</summary>
    public bool ReplicaIdentities { get; init; }

    /// <summary>
    /// Latency each way between the replicas and PostgreSQL (<see cref="NetworkLatencyProxy"/>), as
    /// across production's network; zero: the replicas reach the database straight on loopback.
    /// </summary>
    public TimeSpan DatabaseLatency { get; init; }

    /// <summary>
    /// The fleet runs on a PostgreSQL cluster of its own (<see cref="PrivatePostgres"/>), which a fault
    /// may stop and start; <see cref="PostgresAdmin"/> is then ignored. The shared server is never restarted.
    /// </summary>
    public bool OwnPostgres { get; init; }

    /// <summary>
    /// The replicas use a Redis of the fleet's own (<see cref="PrivateRedis"/>), which a fault may kill
    /// and start again; <see cref="Redis"/> is then ignored. The engines' Redis is never stopped.
    /// A fleet with <see cref="ReplicaIdentities"/> already has a Redis of its own, and this is then ignored.
    /// </summary>
    public bool OwnRedis { get; init; }
}

/// <summary>
/// The system under test for one run: a fresh database, the Kafka mock, inventory, N shop
/// replicas and the gateway, each a real process. Scales and kills replicas on demand; stops
/// everything on dispose (and every process also stops by itself if the lab dies).
/// </summary>
public sealed class LabFleet : IAsyncDisposable
{
    private readonly FleetOptions _options;
    private readonly List<ServiceProcess> _shops = [];
    private readonly Dictionary<string, IReadOnlyDictionary<string, string>> _shopSettings = [];
    private readonly Dictionary<string, string> _shopOverrides = [];
    private readonly KafkaHost? _kafka;
    private readonly HashSet<int> _claimedPorts = [];
    private readonly IProgress<string>? _notes;
    private NetworkLatencyProxy? _databaseNetwork;
    private int _nextReplica = 1;

    private LabFleet(FleetOptions options, string database, string databaseConnection, KafkaHost? kafka, string bootstrap, string token, IProgress<string>? notes)
    {
        (_options, Database, DatabaseConnection, _kafka, KafkaBootstrapServers, Token, _notes) = (options, database, databaseConnection, kafka, bootstrap, token, notes);
        Logs = Path.Combine(options.RunFolder, "logs");
    }

    public string Database { get; }

    public string DatabaseConnection { get; }

    /// <summary>The run's database as the replicas reach it: through the fleet's network when it has one (<see cref="FleetOptions.DatabaseLatency"/>).</summary>
    public string ReplicaDatabaseConnection => _databaseNetwork is { } network
        ? new NpgsqlConnectionStringBuilder(DatabaseConnection) { Host = "127.0.0.1", Port = network.Port }.ConnectionString
        : DatabaseConnection;

    public string KafkaBootstrapServers { get; }

    public string Token { get; }

    public string Logs { get; }

    /// <summary>A connection string for the Redis the replicas use: the fleet's own when its replicas have identities or it has one (<see cref="OwnRedis"/>, as its administrator), else the engines'.</summary>
    public string Redis => Identities?.Redis.AdminConnection ?? OwnRedis?.AdminConnection ?? _options.Redis;

    public ServiceProcess Inventory { get; private set; } = null!;

    /// <summary>postgres_exporter against the run's database, scraped with the services.</summary>
    public PostgresExporter PostgresExporter { get; private set; } = null!;

    public ServiceProcess Gateway { get; private set; } = null!;

    public IReadOnlyList<ServiceProcess> Shops => _shops;

    /// <summary>Each replica's own database role and Redis user, when the fleet was started with them.</summary>
    public ReplicaIdentities? Identities { get; private set; }

    /// <summary>The fleet's own PostgreSQL cluster (<see cref="FleetOptions.OwnPostgres"/>), which a fault may stop and start; null on the shared server.</summary>
    public PrivatePostgres? OwnPostgres { get; private init; }

    /// <summary>The fleet's own Redis (<see cref="FleetOptions.OwnRedis"/>), which a fault may kill and start again; null on the engines' Redis.</summary>
    public PrivateRedis? OwnRedis { get; private set; }

    /// <summary>Restarts replicas whose liveness fails, as a kubelet would, once <see cref="StartSupervisor"/> ran.</summary>
    public ReplicaSupervisor? Supervisor { get; private set; }

    public IEnumerable<ServiceProcess> All => [Inventory, .. _shops, Gateway];

    /// <summary>Raised after a replica joins or leaves, so Prometheus's targets can follow.</summary>
    public event Func<LabFleet, CancellationToken, Task>? Changed;

    public static async Task<LabFleet> StartAsync(FleetOptions options, IProgress<string>? progress, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Replicas, 1);
        Directory.CreateDirectory(Path.Combine(options.RunFolder, "logs"));
        PrivatePostgres? own = null;
        if (options.OwnPostgres)
        {
            progress?.Report("a PostgreSQL cluster of its own");
            own = await PrivatePostgres.StartAsync(cancellationToken);
            options = options with { PostgresAdmin = own.AdminConnection };
        }

        try
        {
            return await StartOnAsync(options, own, progress, cancellationToken);
        }
        catch when (own is not null)
        {
            await own.DisposeAsync();
            throw;
        }
    }

    private static async Task<LabFleet> StartOnAsync(FleetOptions options, PrivatePostgres? own, IProgress<string>? progress, CancellationToken cancellationToken)
    {
        // Fresh per fleet: the run's time and a random suffix, never a name an earlier run used.
        var database = string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"firedrill_run_{DateTime.UtcNow:yyyyMMdd_HHmmss}_{Random.Shared.Next(0x10000, 0xFFFFF):x5}");
        progress?.Report($"database {database}");
        await using (var admin = new NpgsqlConnection(options.PostgresAdmin))
        {
            await admin.OpenAsync(cancellationToken);
            if (options.DatabaseTemplate is { } template)
            {
                progress?.Report($"database {database}: a copy of {template}");
                await OrdersTemplate.CloneAsync(admin, template, database, cancellationToken);
            }
            else
            {
                await using var create = new NpgsqlCommand($"CREATE DATABASE \"{database}\"", admin);
                await create.ExecuteNonQueryAsync(cancellationToken);
            }
        }

        var kafka = options.KafkaBootstrapServers is null ? KafkaHost.StartMock() : null;
        var fleet = new LabFleet(options, database, new NpgsqlConnectionStringBuilder(options.PostgresAdmin) { Database = database }.ConnectionString,
            kafka, options.KafkaBootstrapServers ?? kafka!.BootstrapServers, Convert.ToHexString(Guid.NewGuid().ToByteArray()), progress)
        {
            OwnPostgres = own,
        };
        try
        {
            if (options.DatabaseLatency > TimeSpan.Zero)
            {
                var server = new NpgsqlConnectionStringBuilder(fleet.DatabaseConnection);
                fleet._databaseNetwork = NetworkLatencyProxy.Start(server.Host ?? "127.0.0.1", server.Port, options.DatabaseLatency, TimeProvider.System);
            }

            if (options.ReplicaIdentities)
            {
                fleet.Identities = await ReplicaIdentities.CreateAsync(options.PostgresAdmin, database, fleet.Logs, cancellationToken);
            }
            else if (options.OwnRedis)
            {
                progress?.Report("a Redis of its own");
                fleet.OwnRedis = await PrivateRedis.StartAsync(Path.Combine(fleet.Logs, "redis.log"), cancellationToken);
            }

            progress?.Report("inventory, postgres_exporter");
            var exporter = PostgresExporter.StartAsync(fleet.DatabaseConnection, options.RunFolder, cancellationToken, fleet.ClaimPort(options.Ports?.PostgresExporter, PostgresExporter.ServiceName));
            fleet.Inventory = fleet.Launch("inventory", "Firedrill.Inventory", options.InventorySettings, options.Ports?.Inventory);
            try
            {
                await fleet.Inventory.WaitReadyAsync(cancellationToken);
            }
            finally
            {
                // Awaited either way, so a failed start never leaves an exporter unowned.
                fleet.PostgresExporter = await exporter;
            }

            // The first replica migrates and seeds the database; the others start once it is ready.
            progress?.Report("shop replicas");
            await fleet.AddReplicaAsync(cancellationToken, updateGateway: false);
            await Task.WhenAll(Enumerable.Range(1, options.Replicas - 1).Select(_ => fleet.AddReplicaAsync(cancellationToken, updateGateway: false)));

            progress?.Report("gateway");
            var gatewaySettings = new Dictionary<string, string>(options.GatewaySettings)
            {
                ["ReverseProxy:Clusters:shop:HealthCheck:Active:Interval"] = "00:00:01",
            };
            // The replicas are the gateway's destinations as lab overrides, never as start settings: a
            // replica taken out removes its override, and under a start setting that revealed its address
            // again, so a killed replica stayed in rotation for the rest of the run.
            fleet.Gateway = fleet.Launch("gateway", "Firedrill.Gateway", gatewaySettings, options.Ports?.Gateway);
            await fleet.Gateway.WaitListeningAsync(cancellationToken);
            await fleet.UpdateGatewayAsync(cancellationToken);
            await fleet.Gateway.WaitReadyAsync(cancellationToken);
            return fleet;
        }
        catch
        {
            await fleet.DisposeAsync();
            throw;
        }
    }

    /// <summary>Starts one more replica, waits for it, and (by default) puts it behind the gateway.</summary>
    public async Task<ServiceProcess> AddReplicaAsync(CancellationToken cancellationToken, bool updateGateway = true)
    {
        var number = _nextReplica++;
        var name = $"shop-{number}";
        var settings = new Dictionary<string, string>(_options.ShopSettings.Concat(_shopOverrides).GroupBy(pair => pair.Key).Select(group => group.Last()))
        {
            ["ConnectionStrings:Postgres"] = ReplicaDatabaseConnection,
            ["ConnectionStrings:Redis"] = OwnRedis?.AdminConnection ?? _options.Redis,
            ["Kafka:BootstrapServers"] = KafkaBootstrapServers,
            ["InventoryClient:BaseAddress"] = Inventory.Address.ToString(),
        };
        if (Identities is not null)
        {
            var identity = await Identities.ForAsync(name, cancellationToken);
            settings["ConnectionStrings:Postgres"] = ReplicaIdentities.PostgresConnection(identity, ReplicaDatabaseConnection);
            settings["ConnectionStrings:Redis"] = Identities.RedisConnection(identity);
        }

        var shop = Launch(name, "Firedrill.Shop", settings, _options.Ports?.FirstReplica + number - 1);
        lock (_shops)
        {
            _shops.Add(shop);
            _shopSettings[name] = settings;
        }

        await shop.WaitReadyAsync(cancellationToken);
        if (updateGateway)
        {
            await UpdateGatewayAsync(cancellationToken);
            await RaiseChangedAsync(cancellationToken);
        }

        return shop;
    }

    /// <summary>Starts <paramref name="count"/> more replicas at once, then puts them behind the gateway together (a rolling deployment's new pods).</summary>
    public async Task<IReadOnlyList<ServiceProcess>> AddReplicasAsync(int count, CancellationToken cancellationToken)
    {
        var added = await Task.WhenAll(Enumerable.Range(0, count).Select(_ => AddReplicaAsync(cancellationToken, updateGateway: false)));
        await UpdateGatewayAsync(cancellationToken);
        await RaiseChangedAsync(cancellationToken);
        return added;
    }

    /// <summary>Takes a replica out of the gateway, then stops it.</summary>
    public async Task RemoveReplicaAsync(string name, CancellationToken cancellationToken)
    {
        var shop = _shops.Single(s => s.Name == name);
        lock (_shops)
        {
            _shops.Remove(shop);
        }

        await UpdateGatewayAsync(cancellationToken, removed: name);
        await shop.DisposeAsync();
        await RaiseChangedAsync(cancellationToken);
    }

    private async Task RaiseChangedAsync(CancellationToken cancellationToken)
    {
        if (Changed is { } changed)
        {
            await changed(this, cancellationToken);
        }
    }

    /// <summary>
    /// Every service as a Prometheus target (job by kind, a <c>service</c> label by name), and the
    /// database's exporter (job <c>postgres</c>, service <c>postgres-exporter</c>).
    /// </summary>
    public IReadOnlyList<Prometheus.ScrapeTarget> ScrapeTargets() =>
        All.Where(service => service.IsListening).Select(service => new Prometheus.ScrapeTarget(
                service.Project.Replace("Firedrill.", "", StringComparison.Ordinal).ToLowerInvariant(),
                service.Address.Authority,
                new Dictionary<string, string> { ["service"] = service.Name }))
            .Append(new Prometheus.ScrapeTarget("postgres", PostgresExporter.Address,
                new Dictionary<string, string> { ["service"] = PostgresExporter.ServiceName }))
            .ToList();

    /// <summary>
    /// Kills a replica and starts it again with the same settings on the same address, as an
    /// orchestrator restarts a container: it does not wait for the new process to be ready.
    /// </summary>
    public async Task<ServiceProcess> RestartReplicaAsync(string name)
    {
        ServiceProcess old;
        IReadOnlyDictionary<string, string> settings;
        lock (_shops)
        {
            old = _shops.Single(s => s.Name == name);
            settings = _shopSettings[name];
        }

        await old.DisposeAsync();
        var restarted = ServiceProcess.Start(name, old.Project, Logs, Token, settings, old.Address.Port);
        lock (_shops)
        {
            _shops[_shops.IndexOf(old)] = restarted;
        }

        return restarted;
    }

    /// <summary>
    /// Settings for the replicas started from now on (a new deployment's configuration); the running
    /// ones change through <see cref="ConfigureShopsAsync"/>.
    /// </summary>
    public void SetShopSettings(IReadOnlyDictionary<string, string> settings)
    {
        lock (_shops)
        {
            foreach (var (key, value) in settings)
            {
                _shopOverrides[key] = value;
            }
        }
    }

    /// <summary>Starts the liveness supervisor (one per fleet); it stops before the fleet does.</summary>
    public ReplicaSupervisor StartSupervisor(SupervisorOptions options)
    {
        if (Supervisor is not null)
        {
            throw new InvalidOperationException("The fleet's supervisor is already running.");
        }

        return Supervisor = ReplicaSupervisor.Start(this, options);
    }

    /// <summary>
    /// Starts the inventory service again on its address with its settings (after a kill, as an
    /// orchestrator restarts a crashed dependency), and waits until it is ready. Its stock starts afresh.
    /// </summary>
    public async Task<ServiceProcess> RestartInventoryAsync(CancellationToken cancellationToken)
    {
        var old = Inventory;
        await old.DisposeAsync();
        Inventory = ServiceProcess.Start(old.Name, old.Project, Logs, Token, _options.InventorySettings, old.Address.Port);
        await Inventory.WaitReadyAsync(cancellationToken);
        return Inventory;
    }

    /// <summary>Kills a replica without warning; the gateway finds out through its health checks.</summary>
    public Task KillReplicaAsync(string name) => _shops.Single(s => s.Name == name).KillAsync();

    public Task ConfigureShopsAsync(string json, CancellationToken cancellationToken)
    {
        List<ServiceProcess> shops;
        lock (_shops)
        {
            shops = [.. _shops];
        }

        return Task.WhenAll(shops.Where(shop => !shop.HasExited).Select(shop => shop.ConfigureAsync(json, cancellationToken)));
    }

    private async Task UpdateGatewayAsync(CancellationToken cancellationToken, string? removed = null)
    {
        List<ServiceProcess> shops;
        lock (_shops)
        {
            shops = [.. _shops];
        }

        // A replica still starting (another AddReplicaAsync under way) joins when its own start ends.
        var destinations = Destinations(shops.Where(shop => shop.IsListening));
        if (removed is not null)
        {
            destinations[DestinationKey(removed)] = null;
        }

        await Gateway.ConfigureAsync(System.Text.Json.JsonSerializer.Serialize(destinations), cancellationToken);
    }

    private static Dictionary<string, string?> Destinations(IEnumerable<ServiceProcess> shops) =>
        shops.ToDictionary(shop => DestinationKey(shop.Name), shop => (string?)shop.Address.ToString());

    private static string DestinationKey(string replica) => $"ReverseProxy:Clusters:shop:Destinations:{replica}:Address";

    private ServiceProcess Launch(string name, string project, IReadOnlyDictionary<string, string> settings, int? preferredPort = null) =>
        ServiceProcess.Start(name, project, Logs, Token, _options.RecordSpans
            ? new Dictionary<string, string>(settings) { ["Telemetry:SpansFile"] = Path.Combine(Logs, name + ".spans.jsonl") }
            : settings, ClaimPort(preferredPort, name));

    /// <summary>The planned port (or the next free one above it); null when the fleet has no plan.</summary>
    private int? ClaimPort(int? preferredPort, string service)
    {
        lock (_claimedPorts)
        {
            return preferredPort is { } preferred ? LoopbackPorts.Claim(preferred, service, _claimedPorts, _notes) : null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Supervisor is not null)
        {
            await Supervisor.DisposeAsync();
        }

        var processes = new List<ServiceProcess>(_shops);
        if (Gateway is not null)
        {
            processes.Add(Gateway);
        }

        if (Inventory is not null)
        {
            processes.Add(Inventory);
        }

        foreach (var process in processes)
        {
            await process.DisposeAsync();
        }

        if (PostgresExporter is not null)
        {
            await PostgresExporter.DisposeAsync();
        }

        if (_databaseNetwork is not null)
        {
            await _databaseNetwork.DisposeAsync();
        }

        _kafka?.Dispose();
        NpgsqlConnection.ClearAllPools();
        if (OwnPostgres is not null)
        {
            // The whole cluster goes with the fleet.
            await OwnPostgres.DisposeAsync();
        }
        else if (Environment.GetEnvironmentVariable("FIREDRILL_KEEP_DATABASES") != "1")
        {
            await DropDatabaseAsync();
        }

        if (Identities is not null)
        {
            await Identities.DisposeAsync();
        }

        if (OwnRedis is not null)
        {
            await OwnRedis.DisposeAsync();
        }
    }

    /// <summary>The report keeps the numbers; the run's database goes (FIREDRILL_KEEP_DATABASES=1 keeps it for a post-mortem).</summary>
    private async Task DropDatabaseAsync()
    {
        try
        {
            await using var admin = new NpgsqlConnection(_options.PostgresAdmin);
            await admin.OpenAsync();
            await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{Database}\" WITH (FORCE)", admin);
            await drop.ExecuteNonQueryAsync();
        }
        catch (NpgsqlException)
        {
            // Best effort: a leftover database is harmless and named for its run.
        }
    }
}
