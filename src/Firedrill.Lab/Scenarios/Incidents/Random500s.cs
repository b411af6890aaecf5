using System.Globalization;
using System.Net;
using System.Text;
using Dapper;
using Firedrill.Lab.Fleet;
using Firedrill.Lab.Load;
using Npgsql;

namespace Firedrill.Lab.Scenarios.Incidents;

/// <summary>
/// SCENARIOS.md #8. A small share of requests answer 500 while every engine, pool and CPU looks
/// fine. <c>shared-state</c>: order lookups share one connection held by a singleton; one client
/// at a time never notices, concurrent lookups collide. <c>bad-record</c>: a legacy import wrote a
/// NaN total into 2% of the orders; the strict read fails for exactly those ids, every time.
/// <c>unhandled-downstream</c>: inventory fails 10% of reservations and one code path lets the
/// error escape. Every 500 carries a trace id; the lab follows a real one with
/// <c>firedrill trace</c> to the exception type and the shop's frame.
/// </summary>
internal sealed class Random500s : Scenario<Random500s.Cause>
{
    /// <summary>A variant: the shipped defect (a shop setting), what the lab does to the environment, and the exception it shows.</summary>
    /// <param name="Clients">
    /// Clients in the broken and fixed phases, each sending on the same timer (a closed model
    /// paced to <see cref="Rate"/> in all), or 0 for the open model at <see cref="Rate"/>.
    /// shared-state needs requests that overlap on one replica: evenly spaced arrivals, spread over
    /// two replicas by a least-requests balancer, almost never do on an idle machine (CI saw no
    /// collision in a whole phase), while clients that send together put two at once on each
    /// replica, every time, as a page fetching its parts in parallel or dashboards polling do.
    /// </param>
    internal sealed record Cause(string Name, string Summary, string DefectSetting, string ExceptionType, double InventoryErrorRate, bool BadRecords, int Clients = 0)
        : ScenarioVariant(Name, Summary);

    private const int Orders = 2000;
    private const double Rate = 120;

    // shared-state's clients sending together: two requests at once on each of the two replicas, 30 times a second.
    private const int SharedStateClients = 4;
    private const string BadRecordsSql = "UPDATE orders SET total = 'NaN' WHERE id % 50 = 7";
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(5);

    public override string Id => "random-500s";

    public override string Title => "Random errors, infrastructure healthy";

    protected override IReadOnlyList<Cause> TypedVariants { get; } =
    [
        new("shared-state", "order lookups share one connection held by a singleton; only concurrency reveals it",
            "Orders:SharedConnectionReads", "Npgsql.NpgsqlOperationInProgressException", 0, BadRecords: false, Clients: SharedStateClients),
        new("bad-record", "2% of the orders hold a NaN total from a legacy import; the strict read fails on exactly those",
            "Orders:ReadTotalsStrictly", "System.Data.DataException", 0, BadRecords: true),
        new("unhandled-downstream", "inventory fails 10% of reservations and the reservation path does not handle it",
            "Orders:UnguardedReservation", "System.Net.Http.HttpRequestException", 0.1, BadRecords: false),
    ];

    private bool Orders500sFromPlacing => Chosen.InventoryErrorRate > 0;

    public override SignalQuery KeySignal => new(
        "500s per second", """sum(rate(http_server_request_duration_seconds_count{service=~"shop-.*", http_response_status_code="500"}[5s])) or vector(0)""",
        "Responses with status 500, all replicas.");

    public override IReadOnlyList<SignalQuery> ChartSignals =>
    [
        new("requests per second", """sum(rate(http_server_request_duration_seconds_count{service=~"shop-.*"}[5s]))""", "Everything the replicas answered."),
    ];

    public override Runbook Runbook => new(
        "A small share of requests fail with 500 \"An unexpected error occurred\", seemingly at random, while dashboards show every service up and the database, pool and CPU healthy.",
        [
            new("500s by route", """topk(1, sum by (http_route) (rate(http_server_request_duration_seconds_count{service=~"shop-.*", http_response_status_code="500"}[10s]))) or on() vector(0)""",
                "Which endpoint fails (the series' http_route label): one code path, not the platform."),
            new("500s by exception type", """topk(1, sum by (error_type) (rate(http_server_request_duration_seconds_count{service=~"shop-.*", http_response_status_code="500"}[10s]))) or on() vector(0)""",
                $"ASP.NET Core's request duration carries error_type: here {Chosen.ExceptionType}."),
            new("Pool usage", """max(db_client_connection_count{service=~"shop-.*", db_client_connection_state="used"} / ignoring(db_client_connection_state) db_client_connection_max{service=~"shop-.*"})""",
                "Low: the database and the pool are not the problem."),
            new("Shop CPU (cores)", """sum(rate(dotnet_process_cpu_time_seconds_total{service=~"shop-.*"}[10s]))""",
                "Well under the machine's cores: nothing is saturated."),
            new("Targets up", """count(up == 1)""", "Every service and the database's exporter answer their scrapes."),
        ],
        Chosen.Name switch
        {
            "shared-state" => "OrderStore.FindOnSharedConnectionAsync (src/Firedrill.Shop/Features/Orders/OrderStore.cs, Orders:SharedConnectionReads=true) runs every order lookup on one NpgsqlConnection kept by the OrderStore singleton. A connection runs one command at a time; when two lookups overlap on a replica, the second throws NpgsqlOperationInProgressException. One client at a time never overlaps, so it passed every test; four clients sending together put two lookups at once on each replica, and about one in four requests fails.",
            "bad-record" => "OrderStore reads the stored total straight into a decimal (Orders:ReadTotalsStrictly=true, OrderStore.TotalColumn in src/Firedrill.Shop/Features/Orders/OrderStore.cs). A legacy import wrote NaN into 2% of the orders (numeric accepts it, decimal cannot hold it): reading one throws InvalidCastException, which Dapper wraps in a DataException. The same ids fail every time; every other order never does.",
            _ => "OrderService.PlaceAsync reserves through InventoryClient.ReserveUnguardedAsync (src/Firedrill.Shop/Features/Inventory/InventoryClient.cs, Orders:UnguardedReservation=true), the reservation without ReserveAsync's error handling: when inventory answers 503 (10% of calls here) EnsureSuccessStatusCode throws HttpRequestException, which nothing in the order path expects.",
        },
        Chosen.Name switch
        {
            "shared-state" => "A connection per operation from the pool (OrderStore.FindAsync: `await using var connection = await database.OpenConnectionAsync(...)`): pooled connections are cheap, and nothing non-thread-safe is shared between requests (the same for a DbContext: scoped, never a singleton).",
            "bad-record" => "Tolerate the data the code will meet (OrderStore.TotalColumn reads NULLIF(o.total, 'NaN') and the lines' sum answers, with a warning naming the order), then repair the rows: UPDATE orders SET total = lines' sum WHERE total = 'NaN'.",
            _ => "Handle the dependency's failure where it happens (InventoryClient.ReserveAsync turns it into InventoryUnavailableException, answered as a 503 problem with the cause by DependencyExceptionHandler); the caller can retry, and the 500 rate says only what is really a bug.",
        });

    public override FleetOptions Fleet(FleetOptions defaults) => defaults with
    {
        Replicas = 2,
        ShopSettings = new Dictionary<string, string>(defaults.ShopSettings)
        {
            ["Jobs:InventorySyncEnabled"] = "false",
            // Reservations are not retried in this shop: each inventory failure reaches the order path.
            ["InventoryClient:MaxRetries"] = "0",
            ["InventoryClient:CircuitBreakerEnabled"] = "false",
        },
    };

    /// <summary>Two thousand orders with a line each, written straight into the run's database (no need to pay for them through the API).</summary>
    public override async Task SetupAsync(ScenarioContext context, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(context.Fleet.DatabaseConnection);
        await connection.OpenAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition("""
            INSERT INTO orders (id, customer_id, status, total, created_at)
            SELECT i, 1 + i % 100, 'placed', p.price, now() - make_interval(mins => i)
            FROM generate_series(1, @orders) AS i JOIN products p ON p.id = 1 + i * 7 % 1000;
            INSERT INTO order_lines (order_id, line_no, product_id, quantity, unit_price)
            SELECT i, 1, p.id, 1, p.price FROM generate_series(1, @orders) AS i JOIN products p ON p.id = 1 + i * 7 % 1000;
            SELECT setval(pg_get_serial_sequence('orders', 'id'), @orders);
            """, new { orders = Orders }, cancellationToken: cancellationToken));
    }

    public override async Task ApplyAsync(ScenarioContext context, string phase, CancellationToken cancellationToken)
    {
        if (phase == Phases.Broken && Chosen.BadRecords)
        {
            // The environment's part: a legacy import lands in production.
            await context.Evidence.PsqlAsync("The legacy import: NaN totals written into 2% of the orders", phase, BadRecordsSql + " RETURNING id, total", cancellationToken);
        }

        await context.Fleet.Inventory.ConfigureAsync(string.Create(CultureInfo.InvariantCulture,
            $$"""{"Inventory:ErrorRate": {{(phase == Phases.Baseline ? 0 : Chosen.InventoryErrorRate)}}}"""), cancellationToken);
        await context.Fleet.ConfigureShopsAsync($$"""{"{{Chosen.DefectSetting}}": {{(phase == Phases.Fixed ? "false" : "true")}}}""", cancellationToken);
    }

    /// <summary>The variant's own requests, unmeasured, on the correct code: the paths the phases take are compiled and the pools open.</summary>
    public override async Task WarmUpAsync(ScenarioContext context, CancellationToken cancellationToken)
    {
        using var client = context.GatewayClient(RequestTimeout);
        await new LoadGenerator(client, context.Time).RunAsync(new LoadProfile
        {
            Model = LoadModel.Open,
            RatePerSecond = Rate / 3,
            Duration = context.Duration(TimeSpan.FromSeconds(8), TimeSpan.FromSeconds(4)),
            RequestTimeout = RequestTimeout,
            Mix = Mix(),
        }, progress: null, cancellationToken);
    }

    public override async Task<PhaseRun> DriveAsync(ScenarioContext context, string phase, CancellationToken cancellationToken)
    {
        var baseline = phase == Phases.Baseline;
        var duration = baseline
            ? context.Duration(TimeSpan.FromSeconds(15), TimeSpan.FromSeconds(3))
            : context.Duration(TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(5));
        using var client = context.GatewayClient(RequestTimeout);
        var evidence = baseline ? Task.CompletedTask : context.CaptureDuringAsync(duration * 0.5, token => CaptureAsync(context, phase, token), cancellationToken);
        // The baseline is how it was tried before release: one client at a time. Then real concurrency:
        // production's arrival rate, or (shared-state) several clients at once.
        var closed = baseline || Chosen.Clients > 0;
        var load = await new LoadGenerator(client, context.Time).RunAsync(new LoadProfile
        {
            Model = closed ? LoadModel.Closed : LoadModel.Open,
            Concurrency = baseline ? 1 : Math.Max(1, Chosen.Clients),
            // Paced, so neither the lone client nor the group outruns production's rate (unpaced, one
            // client on loopback passed the gateway's 1,000 a second and met its 429s).
            Pacing = closed ? TimeSpan.FromSeconds((baseline ? 1 : Chosen.Clients) / Rate) : null,
            RatePerSecond = closed ? 0 : Rate,
            Duration = duration,
            RequestTimeout = RequestTimeout,
            Mix = Mix(),
            IsError = status => status == 500,
        }, context.Progress, cancellationToken);
        await evidence;

        var total = load.Total;
        var signals = new Dictionary<string, double>
        {
            ["requests"] = total.Requests,
            ["errors_500"] = total.Outcomes.GetValueOrDefault("500"),
            ["rate_500"] = Math.Round(total.Requests == 0 ? 0 : (double)total.Outcomes.GetValueOrDefault("500") / total.Requests, 4),
            ["answers_503"] = total.Outcomes.GetValueOrDefault("503"),
        };
        return new PhaseRun(load, signals);
    }

    private IReadOnlyList<RequestTemplate> Mix()
    {
        var lookup = new RequestTemplate("order lookup", 3, sequence => new HttpRequestMessage(HttpMethod.Get, $"/api/orders/{OrderId(sequence)}"));
        return Orders500sFromPlacing
            ? [lookup, new RequestTemplate("place order", 1, sequence => new HttpRequestMessage(HttpMethod.Post, "/api/orders")
            {
                Content = new StringContent(OrderBody(sequence), Encoding.UTF8, "application/json"),
            })]
            : [lookup];
    }

    /// <summary>Spreads lookups over every order, deterministically.</summary>
    private static long OrderId(long sequence) => 1 + sequence * 7919 % Orders;

    private static string OrderBody(long sequence) => string.Create(CultureInfo.InvariantCulture,
        $$"""{"customerId": {{1 + sequence % 100}}, "lines": [{"productId": {{1 + sequence * 31 % 1000}}, "quantity": 1}]}""");

    public override IReadOnlyList<CheckResult> Check(IReadOnlyDictionary<string, PhaseResult> phases)
    {
        var checks = new List<CheckResult>
        {
            Verdict.EqualTo("500s, one client at a time", Phases.Baseline, phases[Phases.Baseline].Signals["errors_500"], 0),
            Verdict.AtLeast("500 rate under concurrency", Phases.Broken, phases[Phases.Broken].Signals["rate_500"], 0.005),
            Verdict.EqualTo("500s", Phases.Fixed, phases[Phases.Fixed].Signals["errors_500"], 0),
        };
        if (Orders500sFromPlacing)
        {
            // The fault is still on while the fix is judged: inventory failures now answer 503 with the cause.
            checks.Add(Verdict.Above("inventory failures answered 503", Phases.Fixed, phases[Phases.Fixed].Signals["answers_503"], 0));
        }

        return checks;
    }

    private async Task CaptureAsync(ScenarioContext context, string phase, CancellationToken cancellationToken)
    {
        var gateway = context.Fleet.Gateway.Address;
        if (Chosen.BadRecords)
        {
            // The request matrix a user would run: which orders fail, and do they fail every time?
            // curl's URL range asks for every id over one kept-alive connection; the sed keeps the id.
            await context.Evidence.ShellAsync("Orders 1-300 answering 500 (each asked twice: count, id)", phase,
                $"for try in 1 2; do curl -s -o /dev/null -w '%{{url_effective}} %{{http_code}}\\n' '{gateway}api/orders/[1-300]'; done | grep ' 500$' | sed -E 's#.*/orders/([0-9]+) 500#\\1#' | sort -n | uniq -c | grep . || echo 'no order answered 500'",
                timeout: TimeSpan.FromSeconds(60), cancellationToken: cancellationToken);
            await context.Evidence.PsqlAsync("Orders 1-300 whose stored total is not a number", phase,
                "SELECT id, total FROM orders WHERE total = 'NaN' AND id <= 300 ORDER BY id", cancellationToken);
        }

        if (phase == Phases.Fixed)
        {
            if (Chosen.BadRecords)
            {
                await context.Evidence.PsqlAsync("The repair: every NaN total set to its lines' sum", phase, """
                    UPDATE orders o SET total = l.sum FROM (SELECT order_id, sum(quantity * unit_price) AS sum FROM order_lines GROUP BY order_id) l
                    WHERE l.order_id = o.id AND o.total = 'NaN' RETURNING o.id, o.total
                    """, cancellationToken);
            }

            return;
        }

        using var client = context.GatewayClient(RequestTimeout);
        var failed = await FailedResponse.CatchAsync(client, sequence => Orders500sFromPlacing
                ? new HttpRequestMessage(HttpMethod.Post, "/api/orders") { Content = new StringContent(OrderBody(sequence), Encoding.UTF8, "application/json") }
                : new HttpRequestMessage(HttpMethod.Get, $"/api/orders/{OrderId(sequence)}"),
            status => status == HttpStatusCode.InternalServerError, attempts: 600, cancellationToken, parallel: 8);
        await DatabaseEvidence.TraceAsync(context, phase, failed, Orders500sFromPlacing
            ? $"curl -s -X POST {gateway}api/orders -H 'Content-Type: application/json' -d '{OrderBody(0)}'"
            : $"curl -s {gateway}api/orders/ID", cancellationToken);
    }
}
