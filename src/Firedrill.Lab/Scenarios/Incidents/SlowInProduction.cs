using System.Globalization;
using Dapper;
using Firedrill.Lab.Fleet;
using Firedrill.Lab.Load;
using Npgsql;

namespace Firedrill.Lab.Scenarios.Incidents;

/// <summary>
/// SCENARIOS.md #1. The same code in two profiles, measured in the same run. <em>Local</em>: one
/// replica straight (no gateway), a database of 500 orders, one client at a time. <em>Production</em>:
/// the gateway, two replicas, a copy of the million-order template (<see cref="OrdersTemplate"/>),
/// concurrent open-model load. The endpoint is a customer's order history. The baseline is the
/// local profile as a developer tried it; broken and fixed measure both profiles.
/// </summary>
internal sealed class SlowInProduction : Scenario<SlowInProduction.Cause>
{
    /// <summary>A variant: the production load's rate, and how its defect is put in place and fixed.</summary>
    internal sealed record Cause(string Name, string Summary, double ProductionRate) : ScenarioVariant(Name, Summary);

    private const string History = "/customers/{id}/orders";
    private const string Index = "orders_customer_id_id";
    private const string CreateIndex = $"CREATE INDEX CONCURRENTLY {Index} ON orders (customer_id, id)";
    private const int LocalOrders = 500;

    // A production customer has about a hundred orders; the app shows fifty a page.
    private const int ProductionPageSize = 50;

    // "Fast" for one request at a time on a laptop-sized database; generous, since a busy 2-core machine stretches milliseconds.
    private const double LocalFastMs = 300;
    private const string LocalKey = "local";
    private const string LocalDatabaseKey = "local-database";
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(10);

    public override string Id => "slow-in-production";

    public override string Title => "Fast locally, slow in production";

    protected override IReadOnlyList<Cause> TypedVariants { get; } =
    [
        new("missing-index", "the history filters on customer_id, which has no index: a laptop's 500 orders hide the scan", 30),
        new("n-plus-one", "the history loads each order's lines in a query of its own: 51 queries for a production page", 200),
        new("small-pool", "a pool of 2 connections, sized on a laptop, meets production concurrency", 150),
    ];

    public override SignalQuery KeySignal => new(
        "history p95 (ms)", $$"""1000 * histogram_quantile(0.95, sum by (le) (rate(http_server_request_duration_seconds_bucket{service=~"shop-.*", http_route="{{History}}"}[5s])))""",
        "The order history's p95 as the production replicas measure it (the baseline: the local replica's, as the client measured it).");

    public override IReadOnlyList<SignalQuery> ChartSignals =>
    [
        new("database time per second", """sum(rate(db_client_operation_duration_seconds_sum{service=~"shop-.*"}[5s]))""",
            "Seconds of database commands per second, both replicas."),
    ];

    public override Runbook Runbook => new(
        "The order history answers in milliseconds on every laptop and in the staging checks, and takes seconds in production under real traffic.",
        [
            new("History p95 in production (s)", $$"""histogram_quantile(0.95, sum by (le) (rate(http_server_request_duration_seconds_bucket{service=~"shop-.*", http_route="{{History}}"}[10s])))""",
                "The endpoint users wait on, measured by the replicas themselves."),
            new("Share of server time spent in the database", $$"""sum(rate(db_client_operation_duration_seconds_sum{service=~"shop-.*"}[10s])) / sum(rate(http_server_request_duration_seconds_sum{service=~"shop-.*", http_route="{{History}}"}[10s]))""",
                "Database time per second of history time, both replicas: about 1 or more (background commands add to it) means the requests' time is the database's."),
            new("Database commands per request", $$"""sum(rate(db_client_operation_duration_seconds_count{service=~"shop-.*"}[10s])) / sum(rate(http_server_request_duration_seconds_count{service=~"shop-.*", http_route="{{History}}"}[10s]))""",
                "About 1 for a set-based query; about 51 when each of a page's 50 orders fetches its lines alone."),
            new("Rows of orders read per second", """sum(rate(pg_stat_user_tables_idx_tup_fetch{relname="orders"}[10s])) + sum(rate(pg_stat_user_tables_seq_tup_read{relname="orders"}[10s]))""",
                "Hundreds of thousands per second to return twenty per request: a scan that filters away most of the table."),
            new("Pool wait p95 (s)", """histogram_quantile(0.95, sum by (le) (rate(firedrill_db_connection_wait_time_seconds_bucket{service=~"shop-.*"}[10s])))""",
                "How long requests wait for a pooled connection before their query even starts."),
        ],
        Chosen.Name switch
        {
            "missing-index" => $"OrderStore.FindByCustomerAsync (src/Firedrill.Shop/Features/Orders/OrderStore.cs) filters orders on customer_id, and production's database lacks the index the migration defines ({Index} in src/Firedrill.Shop/Data/Migrations/0001_schema.sql): each request scans the primary key backwards and filters away hundreds of thousands of rows to find a customer's latest 50. On 500 orders the same scan costs nothing.",
            "n-plus-one" => "OrderStore.FindByCustomerOneQueryPerOrderAsync (src/Firedrill.Shop/Features/Orders/OrderStore.cs, Orders:HistoryQueryPerOrder=true) reads the page's orders, then each order's lines in a query of its own: a laptop customer with five orders makes 6 cheap round trips; a production customer's page of 50 makes 51, and under concurrency the database does fifty times the work.",
            _ => "The pool was sized on a laptop (Db:MaxPoolSize=2, src/Firedrill.Shop/Data/DbOptions.cs read by ShopDatabase): one client at a time never needs more, but production's concurrent requests queue for those two connections before their query can start.",
        },
        Chosen.Name switch
        {
            "missing-index" => $"Ship the migration's index, created live without blocking writes: {CreateIndex}; the plan becomes an index scan reading only the page's rows.",
            "n-plus-one" => "One set-based query for the page and all its lines (OrderStore.FindByCustomerAsync: a CTE for the page joined to order_lines), whatever the page size.",
            _ => "Size the pool from measured concurrency (requests in flight × share of their time holding a connection, with headroom, and every replica's pools under the server's max_connections): 20 here, with a 2 s acquisition timeout so an overload fails fast instead of queueing without bound.",
        });

    public override FleetOptions Fleet(FleetOptions defaults) => defaults with
    {
        Replicas = 2,
        ShopSettings = ShopSettings(defaults.ShopSettings),
    };

    private Dictionary<string, string> ShopSettings(IReadOnlyDictionary<string, string> defaults)
    {
        var settings = new Dictionary<string, string>(defaults) { ["Jobs:InventorySyncEnabled"] = "false" };
        if (Chosen.Name == "small-pool")
        {
            // As shipped: the laptop's pool, the default acquisition timeout.
            settings["Db:MaxPoolSize"] = "2";
        }

        return settings;
    }

    /// <summary>Production's data: a copy of the million-order template, built first if this schema version has none (minutes, once).</summary>
    public override async Task<FleetOptions> PrepareAsync(FleetOptions options, IProgress<string> progress, CancellationToken cancellationToken) =>
        options with { DatabaseTemplate = await OrdersTemplate.EnsureAsync(options.PostgresAdmin, Path.Combine(options.RunFolder, "logs"), progress, cancellationToken) };

    /// <summary>The local profile: its own small database and one replica on it, beside the production fleet.</summary>
    public override async Task SetupAsync(ScenarioContext context, CancellationToken cancellationToken)
    {
        var fleet = context.Fleet;
        // Created and dropped from a session in the fleet's database, which outlives it.
        var local = await LocalDatabase.CreateAsync(fleet.DatabaseConnection, fleet.Database + "_local", cancellationToken);
        context.Resources.Add(local);
        context.Items[LocalDatabaseKey] = local.ConnectionString;
        var settings = new Dictionary<string, string>(ShopSettings(new Dictionary<string, string>()))
        {
            ["ConnectionStrings:Postgres"] = local.ConnectionString,
            ["ConnectionStrings:Redis"] = fleet.Redis,
            ["Kafka:BootstrapServers"] = fleet.KafkaBootstrapServers,
            ["InventoryClient:BaseAddress"] = fleet.Inventory.Address.ToString(),
        };
        var replica = ServiceProcess.Start("shop-local", "Firedrill.Shop", fleet.Logs, fleet.Token, settings);
        context.Resources.Add(replica);
        await replica.WaitReadyAsync(cancellationToken);
        context.Items[LocalKey] = replica;

        await using (var connection = new NpgsqlConnection(local.ConnectionString))
        {
            await connection.OpenAsync(cancellationToken);
            await connection.ExecuteAsync(new CommandDefinition("""
                INSERT INTO orders (id, customer_id, status, total, created_at)
                SELECT i, 1 + i % 100, 'placed', p.price, now() - make_interval(mins => i)
                FROM generate_series(1, @orders) AS i JOIN products p ON p.id = 1 + i * 7 % 1000;
                INSERT INTO order_lines (order_id, line_no, product_id, quantity, unit_price)
                SELECT i, 1, p.id, 1, p.price FROM generate_series(1, @orders) AS i JOIN products p ON p.id = 1 + i * 7 % 1000;
                SELECT setval(pg_get_serial_sequence('orders', 'id'), @orders);
                ANALYZE orders; ANALYZE order_lines;
                """, new { orders = LocalOrders }, cancellationToken: cancellationToken));
        }

        // The defect, as shipped to both profiles.
        switch (Chosen.Name)
        {
            case "missing-index":
                foreach (var database in new[] { fleet.DatabaseConnection, local.ConnectionString })
                {
                    await ExecuteAsync(database, $"DROP INDEX {Index}", cancellationToken);
                }

                break;
            case "n-plus-one":
                await ConfigureBothAsync(context, """{"Orders:HistoryQueryPerOrder": true}""", cancellationToken);
                break;
        }
    }

    public override async Task WarmUpAsync(ScenarioContext context, CancellationToken cancellationToken)
    {
        using var client = context.GatewayClient(RequestTimeout);
        await Task.WhenAll(
            base.WarmUpAsync(context, cancellationToken),
            RunAsync(LoadLocal(context), LocalProfile(TimeSpan.FromSeconds(2)), context, cancellationToken));
    }

    public override async Task ApplyAsync(ScenarioContext context, string phase, CancellationToken cancellationToken)
    {
        if (phase != Phases.Fixed)
        {
            return;
        }

        switch (Chosen.Name)
        {
            case "missing-index":
                // Live, while production traffic runs: CONCURRENTLY builds the index without blocking writes.
                using (var client = context.GatewayClient(RequestTimeout))
                {
                    var traffic = RunAsync(client, ProductionProfile(TimeSpan.FromSeconds(3)), context, cancellationToken);
                    await context.Evidence.ShellAsync("The migration's index, created live under production load", phase,
                        $"{context.Evidence.PsqlCommand} -c '\\timing on' -c '{CreateIndex}'", context.Evidence.PsqlEnvironment,
                        timeout: TimeSpan.FromMinutes(2), cancellationToken: cancellationToken);
                    await traffic;
                }

                await ExecuteAsync((string)context.Items[LocalDatabaseKey], $"CREATE INDEX {Index} ON orders (customer_id, id)", cancellationToken);
                break;
            case "n-plus-one":
                await ConfigureBothAsync(context, """{"Orders:HistoryQueryPerOrder": false}""", cancellationToken);
                break;
            default:
                await ConfigureBothAsync(context, """{"Db:MaxPoolSize": 20, "Db:AcquireTimeoutSeconds": 2}""", cancellationToken);
                break;
        }
    }

    public override async Task<PhaseRun> DriveAsync(ScenarioContext context, string phase, CancellationToken cancellationToken)
    {
        using var local = LoadLocal(context);
        if (phase == Phases.Baseline)
        {
            var tried = await RunAsync(local, LocalProfile(context.Duration(TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(4))), context, cancellationToken);
            // Production serves nothing yet, so the key signal's value is what the developer saw.
            return new PhaseRun(tried, new Dictionary<string, double>
            {
                ["local_p95_ms"] = Math.Round(tried.Total.P95Ms, 2),
                [KeySignal.Name] = Math.Round(tried.Total.P95Ms, 2),
            });
        }

        var laptop = await RunAsync(local, LocalProfile(context.Duration(TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(2))), context, cancellationToken);
        var duration = context.Duration(TimeSpan.FromSeconds(25), TimeSpan.FromSeconds(6));
        using var client = context.GatewayClient(RequestTimeout);
        var started = context.Time.GetUtcNow();
        var evidence = context.CaptureDuringAsync(duration * 0.6, token => CaptureAsync(context, phase, token), cancellationToken);
        var production = await RunAsync(client, ProductionProfile(duration), context, cancellationToken);
        await evidence;

        var window = Math.Max(2, (int)Math.Ceiling((context.Time.GetUtcNow() - started).TotalSeconds));
        async Task<double> Query(string promql) => Math.Round(await context.Prometheus.QueryScalarAsync(promql, null, cancellationToken) ?? 0, 3);
        var signals = new Dictionary<string, double>
        {
            ["local_p95_ms"] = Math.Round(laptop.Total.P95Ms, 2),
            ["production_p95_ms"] = Math.Round(production.Total.P95Ms, 2),
            ["production_error_rate"] = Math.Round(production.Total.ErrorRate, 4),
            ["db_share_of_server_time"] = await Query(Runbook.FirstChecks[1].PromQl.Replace("[10s]", $"[{window}s]", StringComparison.Ordinal)),
            ["db_commands_per_request"] = await Query(Runbook.FirstChecks[2].PromQl.Replace("[10s]", $"[{window}s]", StringComparison.Ordinal)),
            ["orders_rows_read_per_request"] = await Query($$"""(sum(increase(pg_stat_user_tables_idx_tup_fetch{relname="orders"}[{{window}}s])) + sum(increase(pg_stat_user_tables_seq_tup_read{relname="orders"}[{{window}}s]))) / sum(increase(http_server_request_duration_seconds_count{service=~"shop-.*", http_route="{{History}}"}[{{window}}s]))"""),
            ["pool_wait_p95_ms"] = 1000 * await Query(Runbook.FirstChecks[4].PromQl.Replace("[10s]", $"[{window}s]", StringComparison.Ordinal)),
        };
        context.Evidence.Add("Where the history's server time goes (production)", phase, $"Prometheus: {Runbook.FirstChecks[1].PromQl.Replace("[10s]", $"[{window}s]", StringComparison.Ordinal)}",
            string.Create(CultureInfo.InvariantCulture,
                $"database commands: {signals["db_share_of_server_time"]:P0} of the history's server time; {signals["db_commands_per_request"]:0.#} commands per request; {signals["orders_rows_read_per_request"]:N0} rows of orders read per request; pool wait p95 {signals["pool_wait_p95_ms"]:0.#} ms"));
        return new PhaseRun(production, signals);
    }

    public override IReadOnlyList<CheckResult> Check(IReadOnlyDictionary<string, PhaseResult> phases)
    {
        var broken = phases[Phases.Broken].Signals;
        var fix = phases[Phases.Fixed].Signals;
        return
        [
            Verdict.AtMost("local p95 (ms): it looked fine on a laptop", Phases.Baseline, phases[Phases.Baseline].Signals["local_p95_ms"], LocalFastMs),
            Verdict.AtMost("local p95 (ms)", Phases.Broken, broken["local_p95_ms"], LocalFastMs),
            Verdict.AtLeast("production p95 broken ÷ fixed", Phases.Broken, broken["production_p95_ms"] / Math.Max(fix["production_p95_ms"], 1), 5),
            Verdict.AtMost("local p95 (ms)", Phases.Fixed, fix["local_p95_ms"], LocalFastMs),
            Verdict.AtMost("production error rate", Phases.Fixed, fix["production_error_rate"], 0),
        ];
    }

    private async Task CaptureAsync(ScenarioContext context, string phase, CancellationToken cancellationToken)
    {
        if (Chosen.Name == "missing-index")
        {
            await context.Evidence.PsqlAsync($"EXPLAIN (ANALYZE, BUFFERS) of the history's page query ({(phase == Phases.Broken ? "no index" : "with the index")})", phase,
                "EXPLAIN (ANALYZE, BUFFERS) SELECT id FROM orders WHERE customer_id = 4242 ORDER BY id DESC LIMIT 50", cancellationToken);
        }

        if (phase == Phases.Broken)
        {
            await context.Evidence.PsqlAsync("pg_stat_statements: the shop's top statements by total time (the exporter's catalogue queries left out)", phase, """
                SELECT calls, round(total_exec_time::numeric, 1) AS total_ms, round(mean_exec_time::numeric, 2) AS mean_ms, rows,
                       left(regexp_replace(query, '\s+', ' ', 'g'), 90) AS query
                FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
                  AND query NOT LIKE '%pg\_%'
                ORDER BY total_exec_time DESC LIMIT 6
                """, cancellationToken);
        }

        if (Chosen.Name == "small-pool")
        {
            await DatabaseEvidence.PoolMetricsAsync(context, context.Fleet.Shops[0], phase, cancellationToken);
        }
    }

    private static ServiceProcess Local(ScenarioContext context) => (ServiceProcess)context.Items[LocalKey];

    private static HttpClient LoadLocal(ScenarioContext context)
    {
        var client = LoadHttpClient.Create(Local(context).Address);
        client.Timeout = RequestTimeout;
        return client;
    }

    private static Task ConfigureBothAsync(ScenarioContext context, string json, CancellationToken cancellationToken) =>
        Task.WhenAll(context.Fleet.ConfigureShopsAsync(json, cancellationToken), Local(context).ConfigureAsync(json, cancellationToken));

    /// <summary>One developer trying it: one request at a time, straight to the replica, customers with a handful of orders.</summary>
    private static LoadProfile LocalProfile(TimeSpan duration) => new()
    {
        Model = LoadModel.Closed,
        Concurrency = 1,
        Duration = duration,
        RequestTimeout = RequestTimeout,
        Mix = [new RequestTemplate("history (local)", 1, sequence => new HttpRequestMessage(HttpMethod.Get, $"/customers/{1 + sequence % 100}/orders"))],
    };

    /// <summary>Production traffic: an open model through the gateway, customers with a hundred orders each.</summary>
    private LoadProfile ProductionProfile(TimeSpan duration) => new()
    {
        Model = LoadModel.Open,
        RatePerSecond = Chosen.ProductionRate,
        Duration = duration,
        RequestTimeout = RequestTimeout,
        Mix = [new RequestTemplate("history", 1, sequence => new HttpRequestMessage(HttpMethod.Get, $"/api/customers/{1 + sequence * 7919 % OrdersTemplate.Customers}/orders?pageSize={ProductionPageSize}"))],
    };

    private static Task<LoadResult> RunAsync(HttpClient client, LoadProfile profile, ScenarioContext context, CancellationToken cancellationToken) =>
        new LoadGenerator(client, context.Time).RunAsync(profile, context.Progress, cancellationToken);

    private static async Task ExecuteAsync(string database, string sql, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(database);
        await connection.OpenAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(sql, commandTimeout: 300, cancellationToken: cancellationToken));
    }

    /// <summary>The local profile's own small database, dropped with the run.</summary>
    private sealed class LocalDatabase(string admin, string name, string connectionString) : IAsyncDisposable
    {
        public string ConnectionString { get; } = connectionString;

        public static async Task<LocalDatabase> CreateAsync(string admin, string name, CancellationToken cancellationToken)
        {
            await ExecuteAsync(admin, $"CREATE DATABASE \"{name}\"", cancellationToken);
            return new LocalDatabase(admin, name, new NpgsqlConnectionStringBuilder(admin) { Database = name }.ConnectionString);
        }

        public async ValueTask DisposeAsync()
        {
            NpgsqlConnection.ClearAllPools();
            if (Environment.GetEnvironmentVariable("FIREDRILL_KEEP_DATABASES") != "1")
            {
                try
                {
                    await ExecuteAsync(admin, $"DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)", CancellationToken.None);
                }
                catch (NpgsqlException)
                {
                    // Best effort, as the fleet's own: a leftover is harmless and named for its run.
                }
            }
        }
    }
}
