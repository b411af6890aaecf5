using Firedrill.Lab.Fleet;

namespace Firedrill.Lab.Scenarios.Incidents;

/// <summary>
/// SCENARIOS.md #1. The same code in two profiles, measured in the same run. <em>Local</em>: one
/// replica straight (no gateway), its database on loopback with 500 orders, one client at a time.
/// <em>Production</em>: the gateway, two replicas, a copy of the million-order template
/// (<see cref="OrdersTemplate"/>) across a network (<see cref="NetworkLatencyProxy"/>), concurrent
/// open-model load. The endpoint is a customer's order history. The baseline is the local profile
/// as a developer tried it; broken and fixed measure both profiles.
/// </summary>
internal sealed partial class SlowInProduction : Scenario<SlowInProduction.Cause>
{
    /// <summary>A variant: the production load's rate and page size, and how its defect is put in place and fixed.</summary>
    /// <param name="ProductionPageSize">
    /// Orders per history page in production. A production customer has about a hundred orders and the
    /// web app shows fifty a page. small-pool asks for the mobile app's page of ten: its defect is how
    /// many connections are busy at once, which the network's round trip sets, not the page. Fifty
    /// orders with their lines cost PostgreSQL 7–10 ms each here (their pages are not yet in shared
    /// buffers), so 150 a second took more than a core of a 2-core machine, and the fixed phase measured
    /// the database's CPU (p95 about 1 s, pool wait 0.9 s with 15 connections a replica) instead of the pool.
    /// </param>
    internal sealed record Cause(string Name, string Summary, double ProductionRate, int ProductionPageSize = 50) : ScenarioVariant(Name, Summary);

    /// <summary>
    /// Production's database is across a network; the laptop's is on loopback. What a pool must
    /// cover is its connections busy at once (Little's law: requests per second × seconds each holds
    /// a connection). A lab replica serves tens of requests a second where production's serve
    /// thousands, so the round trip is scaled the other way to keep production's proportions: 20 ms
    /// each way makes 75 requests a second per replica hold about 3.5 connections at once, as
    /// 1,700 a second with a 2 ms round trip would. Every variant's production has this network.
    /// </summary>
    internal static readonly TimeSpan NetworkLatency = TimeSpan.FromMilliseconds(20);

    private const string History = "/customers/{id}/orders";
    private const string Index = "orders_customer_id_id";
    private const string CreateIndex = $"CREATE INDEX CONCURRENTLY {Index} ON orders (customer_id, id)";

    // "Fast" for one request at a time on a laptop-sized database; generous, since a busy 2-core machine stretches milliseconds.
    private const double LocalFastMs = 300;

    // The laptop's pool, as shipped in small-pool; the fix's acquisition timeout.
    private const int LaptopPoolSize = 2;
    private const int AcquireTimeoutSeconds = 2;

    public override string Id => "slow-in-production";

    public override string Title => "Fast locally, slow in production";

    protected override IReadOnlyList<Cause> TypedVariants { get; } =
    [
        new("missing-index", "the history filters on customer_id, which has no index: a laptop's 500 orders hide the scan", 30),
        new("n-plus-one", "the history loads each order's lines in a query of its own: 51 round trips to the database for a production page", 10),
        new("small-pool", "a pool of 2 connections, sized on a laptop, meets production concurrency", 150, ProductionPageSize: 10),
    ];

    public override SignalQuery KeySignal => new(
        "history p95 (ms)", $$"""1000 * histogram_quantile(0.95, sum by (le) (rate(http_server_request_duration_seconds_bucket{service=~"shop-.*", http_route="{{History}}"}[5s])))""",
        "The order history's p95 as the production replicas measure it (the baseline: the local replica's, as the client measured it).");

    public override IReadOnlyList<SignalQuery> ChartSignals =>
    [
        Chosen.Name == "small-pool"
            ? new("requests waiting for a connection", """sum(db_client_connection_npgsql_pending_requests{service=~"shop-.*"}) or vector(0)""",
                "Requests queued inside Npgsql for one of the pool's connections, both replicas.")
            : new("database time per second", """sum(rate(db_client_operation_duration_seconds_sum{service=~"shop-.*"}[5s]))""",
                "Seconds of database commands per second, both replicas (the network's round trips included)."),
    ];

    public override Runbook Runbook => new(
        "The order history answers in milliseconds on every laptop and in the staging checks, and takes seconds in production under real traffic.",
        [
            new("History p95 in production (s)", $$"""histogram_quantile(0.95, sum by (le) (rate(http_server_request_duration_seconds_bucket{service=~"shop-.*", http_route="{{History}}"}[5s])))""",
                "The endpoint users wait on, measured by the replicas themselves."),
            new("Share of server time spent in the database", $$"""sum(rate(db_client_operation_duration_seconds_sum{service=~"shop-.*"}[5s])) / sum(rate(http_server_request_duration_seconds_sum{service=~"shop-.*", http_route="{{History}}"}[5s]))""",
                "Database time (commands and their round trips) per second of history time, both replicas: about 1 means the requests' time is the database's; far below 1, they wait for something else first."),
            new("Database commands per request", $$"""sum(rate(db_client_operation_duration_seconds_count{service=~"shop-.*"}[5s])) / sum(rate(http_server_request_duration_seconds_count{service=~"shop-.*", http_route="{{History}}"}[5s]))""",
                "About 1 for a set-based query; about 51 when each of a page's 50 orders fetches its lines alone, each paying the network's round trip."),
            new("Rows of orders read per second", """sum(rate(pg_stat_user_tables_idx_tup_fetch{relname="orders"}[5s])) + sum(rate(pg_stat_user_tables_seq_tup_read{relname="orders"}[5s]))""",
                "Hundreds of thousands per second to return fifty per request: a scan that filters away most of the table."),
            new("Pool wait p95 (s)", """histogram_quantile(0.95, sum by (le) (rate(firedrill_db_connection_wait_time_seconds_bucket{service=~"shop-.*"}[5s])))""",
                "How long requests wait for a pooled connection before their query even starts."),
        ],
        Chosen.Name switch
        {
            "missing-index" => $"OrderStore.FindByCustomerAsync (src/Firedrill.Shop/Features/Orders/OrderStore.cs) filters orders on customer_id, and production's database lacks the index the migration defines ({Index} in src/Firedrill.Shop/Data/Migrations/0001_schema.sql): each request scans the primary key backwards and filters away hundreds of thousands of rows to find a customer's latest 50. On 500 orders the same scan costs nothing.",
            "n-plus-one" => "OrderStore.FindByCustomerOneQueryPerOrderAsync (src/Firedrill.Shop/Features/Orders/OrderStore.cs, Orders:HistoryQueryPerOrder=true) reads the page's orders, then each order's lines in a query of its own: a laptop customer with five orders makes 6 round trips to a database on loopback, which cost nothing; a production customer's page of 50 makes 51, each across the network, and the request waits for them one after the other.",
            _ => $"The pool was sized on a laptop (Db:MaxPoolSize={LaptopPoolSize}, src/Firedrill.Shop/Data/DbOptions.cs, read by ShopDatabase): one client at a time never needs more. In production each request holds a connection for its query's round trip across the network, the replicas' concurrent requests need more connections at once than the pool has, and they queue for them before their query can start (the server time is the wait, not the database).",
        },
        Chosen.Name switch
        {
            "missing-index" => $"Ship the migration's index, created live without blocking writes: {CreateIndex}; the plan becomes an index scan reading only the page's rows.",
            "n-plus-one" => "One set-based query for the page and all its lines (OrderStore.FindByCustomerAsync: a CTE for the page joined to order_lines): one round trip, whatever the page size.",
            _ => $"Size the pool from measured concurrency (Little's law: requests per second per replica × how long each holds a connection, with headroom for bursts, every replica's pool together well under the server's max_connections), and set an acquisition timeout (Db:AcquireTimeoutSeconds={AcquireTimeoutSeconds}) so an overload fails fast as a 503 instead of queueing without bound. The evidence shows the arithmetic with this run's numbers.",
        });

    public override FleetOptions Fleet(FleetOptions defaults) => defaults with
    {
        Replicas = 2,
        ShopSettings = ShopSettings(defaults.ShopSettings),
        DatabaseLatency = NetworkLatency,
    };

    private Dictionary<string, string> ShopSettings(IReadOnlyDictionary<string, string> defaults)
    {
        var settings = new Dictionary<string, string>(defaults) { ["Jobs:InventorySyncEnabled"] = "false" };
        if (Chosen.Name == "small-pool")
        {
            // As shipped: the laptop's pool, the default acquisition timeout.
            settings["Db:MaxPoolSize"] = LaptopPoolSize.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        return settings;
    }

    /// <summary>Production's data: a copy of the million-order template, built first if this schema version has none (a minute or two, once).</summary>
    public override async Task<FleetOptions> PrepareAsync(FleetOptions options, IProgress<string> progress, CancellationToken cancellationToken) =>
        options with { DatabaseTemplate = await OrdersTemplate.EnsureAsync(options.PostgresAdmin, Path.Combine(options.RunFolder, "logs"), progress, cancellationToken) };

    public override async Task ApplyAsync(ScenarioContext context, string phase, CancellationToken cancellationToken)
    {
        if (phase != Phases.Fixed)
        {
            return;
        }

        switch (Chosen.Name)
        {
            case "missing-index":
                await CreateIndexLiveAsync(context, cancellationToken);
                break;
            case "n-plus-one":
                await ConfigureBothAsync(context, """{"Orders:HistoryQueryPerOrder": false}""", cancellationToken);
                break;
            default:
                var size = (int)context.Items[SizedPoolKey];
                await ConfigureBothAsync(context, string.Create(System.Globalization.CultureInfo.InvariantCulture,
                    $$"""{"Db:MaxPoolSize": {{size}}, "Db:AcquireTimeoutSeconds": {{AcquireTimeoutSeconds}}}"""), cancellationToken);
                await OpenResizedPoolsAsync(context, size, cancellationToken);
                break;
        }
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
}
