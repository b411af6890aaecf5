using System.Globalization;
using System.Net.Http.Json;
using System.Text;
using Dapper;
using Firedrill.Lab.Fleet;
using Firedrill.Lab.Load;
using Npgsql;

namespace Firedrill.Lab.Scenarios.Incidents;

/// <summary>
/// SCENARIOS.md #13. The same request matrix — what real clients send: a page with a browser's
/// cookies, a price-list upload, the slow sales report, a payment with its Idempotency-Key, an
/// office of users behind one proxy, every public route — goes straight to a replica (staging)
/// and through the gateway (production). Each variant puts one gateway setting out of line with
/// the service; the fix is the aligned setting.
/// </summary>
internal sealed partial class GatewayOnlyFailures : Scenario<GatewayOnlyFailures.Cause>
{
    /// <summary>
    /// A variant: the gateway settings of the broken and fixed phases (JSON for its
    /// <c>/_lab/config</c>), settings the whole run has, and the status the broken row answers.
    /// </summary>
    internal sealed record Cause(string Name, string Summary, int Status, int Row, string Broken, string Fixed, string Symptom, string RootCause, string FixText)
        : ScenarioVariant(Name, Summary)
    {
        public IReadOnlyDictionary<string, string> GatewaySettings { get; init; } = new Dictionary<string, string>();
    }

    private const string SetupKey = "gateway-only-failures";
    private const string Browsing = "browsing";

    /// <summary>Product pages per second from shoppers behind the office proxy: a refusal is a failure for them.</summary>
    private const double BrowseRate = 4;

    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan Tail = TimeSpan.FromSeconds(1.5);

    public override string Id => "gateway-only-failures";

    public override string Title => "Works in staging, fails behind the gateway";

    protected override IReadOnlyList<Cause> TypedVariants { get; } = AllCauses();

    private const string GatewayErrors = """http_server_request_duration_seconds_count{service="gateway", http_response_status_code=~"4..|5.."}""";
    private const string ReplicaErrors = """http_server_request_duration_seconds_count{service=~"shop-.*", http_response_status_code=~"4..|5.."}""";

    public override SignalQuery KeySignal => new(
        "gateway error answers per second", CounterQueries.Rate(GatewayErrors, 5),
        "4xx and 5xx answers the gateway sent: the refused requests, whether the gateway refused them itself or the replica did.");

    public override IReadOnlyList<SignalQuery> ChartSignals =>
    [
        new("replica error answers per second", CounterQueries.Rate(ReplicaErrors, 5),
            "4xx and 5xx answers the replicas sent; the gap to the gateway's is what the gateway refused on its own."),
    ];

    public override Runbook Runbook => new(
        Chosen.Symptom,
        [
            new("Error answers at the gateway", CounterQueries.Increase(GatewayErrors, "5s"), "Requests production refused in the last 5 s."),
            new("Error answers at the replicas", CounterQueries.Increase(ReplicaErrors, "5s"),
                "Fewer than at the gateway: the gateway refused the difference itself, and the replicas never saw those requests."),
            new($"Answers {Chosen.Status} at the gateway",
                CounterQueries.Increase($$"""http_server_request_duration_seconds_count{service="gateway", http_response_status_code="{{Chosen.Status}}"}""", "5s"),
                "The status names the gateway setting: 431 header size, 413 body size, 504 timeout, 429 rate limit, 400 or 404 from the replica behind a rewriting route."),
        ],
        Chosen.RootCause,
        Chosen.FixText);

    public override FleetOptions Fleet(FleetOptions defaults) => defaults with
    {
        Replicas = 1,
        ShopSettings = new Dictionary<string, string>(defaults.ShopSettings)
        {
            ["Jobs:InventorySyncEnabled"] = "false",
            // One replica serving a handful of requests at a time; PostgreSQL's connections are shared by every fleet on the machine.
            ["Db:MaxPoolSize"] = "10",
        },
        GatewaySettings = new Dictionary<string, string>(defaults.GatewaySettings.Concat(Chosen.GatewaySettings)),
    };

    public override async Task SetupAsync(ScenarioContext context, CancellationToken cancellationToken)
    {
        using var shop = new HttpClient { BaseAddress = context.Fleet.Shops[0].Address, Timeout = TimeSpan.FromSeconds(10) };
        var orders = new List<(long Id, decimal Total)>();
        for (var i = 0; i < 2 * Phases.All.Count + 1; i++)
        {
            using var response = await shop.PostAsJsonAsync("/orders", new { customerId = 1 + i, lines = new[] { new { productId = 10 + i, quantity = 1 } } }, cancellationToken);
            response.EnsureSuccessStatusCode();
            var order = await response.Content.ReadFromJsonAsync<OrderCreated>(cancellationToken) ?? throw new InvalidOperationException("An order without a body.");
            orders.Add((order.Id, order.Total));
        }

        // A payment to read back: the last order, paid once.
        var paid = orders[^1];
        using var pay = new HttpRequestMessage(HttpMethod.Post, "/payments") { Content = JsonContent.Create(new { orderId = paid.Id, amount = paid.Total, currency = "EUR" }) };
        pay.Headers.Add("Idempotency-Key", Guid.NewGuid().ToString());
        using var payment = await shop.SendAsync(pay, cancellationToken);
        payment.EnsureSuccessStatusCode();
        var paymentId = (await payment.Content.ReadFromJsonAsync<OrderCreated>(cancellationToken))!.Id;

        var folder = RunFolder(context);
        var cookies = Cookies();
        await File.WriteAllTextAsync(Path.Combine(folder, "cookies.txt"), cookies, cancellationToken);
        await File.WriteAllTextAsync(Path.Combine(folder, "prices.csv"), await PriceListAsync(context.Fleet.DatabaseConnection, cancellationToken), cancellationToken);
        context.Items[SetupKey] = new MatrixData(orders, paid.Id, paymentId, cookies);
    }

    public override async Task ApplyAsync(ScenarioContext context, string phase, CancellationToken cancellationToken)
    {
        if (phase == Phases.Baseline)
        {
            return;
        }

        await context.Fleet.Gateway.ConfigureAsync(phase == Phases.Broken ? Chosen.Broken : Chosen.Fixed, cancellationToken);
        // YARP applies a route's new transforms when it has rebuilt its endpoints, just after the reload.
        await Task.Delay(TimeSpan.FromMilliseconds(300), context.Time, cancellationToken);
    }

    /// <summary>Shoppers browsing through the office proxy (each their own X-Forwarded-For), so no warm-up drains the lab's own bucket.</summary>
    public override async Task WarmUpAsync(ScenarioContext context, CancellationToken cancellationToken)
    {
        using var client = context.GatewayClient(RequestTimeout);
        await new LoadGenerator(client, context.Time).RunAsync(new LoadProfile
        {
            Model = LoadModel.Open,
            RatePerSecond = 30,
            Duration = context.Duration(TimeSpan.FromSeconds(6), TimeSpan.FromSeconds(3)),
            RequestTimeout = RequestTimeout,
            Mix = [new RequestTemplate("catalog", 1, Browse)],
        }, progress: null, cancellationToken);
    }

    public override async Task<PhaseRun> DriveAsync(ScenarioContext context, string phase, CancellationToken cancellationToken)
    {
        var data = (MatrixData)context.Items[SetupKey];
        var direct = new MatrixTarget("staging (shop-1 direct)", context.Fleet.Shops[0].Address.ToString().TrimEnd('/'), ViaGateway: false);
        var gateway = new MatrixTarget("production (gateway)", context.Fleet.Gateway.Address.ToString().TrimEnd('/') + "/api", ViaGateway: true);
        var rows = Rows(data, Phases.All.ToList().IndexOf(phase), Chosen.Row);

        // Shoppers browse through the gateway for the whole phase, however long the matrix takes.
        using var client = context.GatewayClient(RequestTimeout);
        var recorder = new AttemptRecorder(Browsing);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var browsing = BrowseAsync(client, recorder, data.Cookies, context.Time, stop.Token);
        var started = context.Time.GetTimestamp();

        await Task.Delay(TimeSpan.FromMilliseconds(300), context.Time, cancellationToken);
        var matrix = await RequestMatrix.RunAsync(rows, direct, gateway, RunFolder(context), cancellationToken);
        context.Evidence.Add($"Request matrix: staging vs production ({phase})", phase,
            $"curl, each row's command as listed, against {direct.BaseUrl} (staging) and {gateway.BaseUrl} (production)", matrix.ToTable());

        // A tail after the matrix, so Prometheus has scraped its last answers before the phase is judged.
        var minimum = context.Duration(TimeSpan.FromSeconds(12), TimeSpan.FromSeconds(5));
        var rest = minimum - context.Time.GetElapsedTime(started);
        await Task.Delay(rest > Tail ? rest : Tail, context.Time, cancellationToken);
        await stop.CancelAsync();
        await browsing;

        var report = matrix.Lines.Single(line => line.Row.Number == ReportRow);
        return new PhaseRun(recorder.ToResult(), new Dictionary<string, double>
        {
            ["matrix_rows"] = matrix.Lines.Count,
            ["rows_failing_direct"] = matrix.FailingDirect,
            ["rows_failing_via_gateway"] = matrix.FailingGateway,
            ["rows_failing_only_via_gateway"] = matrix.FailingOnlyThroughGateway,
            [$"rows_answered_{Chosen.Status}_via_gateway"] = matrix.GatewayAnswered(Chosen.Status),
            ["report_ms_direct"] = Math.Round(report.Direct.Took.TotalMilliseconds),
            ["report_ms_via_gateway"] = Math.Round(report.Gateway.Took.TotalMilliseconds),
        });
    }

    /// <summary>One product page every 1/<see cref="BrowseRate"/> s until stopped, each request on its own so a slow one never delays the next.</summary>
    private static async Task BrowseAsync(HttpClient client, AttemptRecorder recorder, string cookies, TimeProvider time, CancellationToken stop)
    {
        var inFlight = new List<Task>();
        for (long sequence = 0; !stop.IsCancellationRequested; sequence++)
        {
            inFlight.Add(BrowseOnceAsync(client, recorder, Browse(sequence, cookies)));
            await Task.Delay(TimeSpan.FromSeconds(1 / BrowseRate), time, stop).ContinueWith(_ => { }, TaskScheduler.Default);
        }

        await Task.WhenAll(inFlight);
    }

    private static async Task BrowseOnceAsync(HttpClient client, AttemptRecorder recorder, HttpRequestMessage request)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        using var timeout = new CancellationTokenSource(RequestTimeout);
        try
        {
            using var response = await client.SendAsync(request, timeout.Token);
            var status = (int)response.StatusCode;
            recorder.Record(Browsing, started, status.ToString(CultureInfo.InvariantCulture), error: status >= 400);
        }
        catch (OperationCanceledException)
        {
            recorder.Record(Browsing, started, LoadOutcomes.Timeout, error: true);
        }
        catch (HttpRequestException ex)
        {
            recorder.Record(Browsing, started, ex.GetType().Name, error: true);
        }
        finally
        {
            request.Dispose();
        }
    }

    public override IReadOnlyList<CheckResult> Check(IReadOnlyDictionary<string, PhaseResult> phases)
    {
        var (baseline, broken, fix) = (phases[Phases.Baseline].Signals, phases[Phases.Broken].Signals, phases[Phases.Fixed].Signals);
        return
        [
            Verdict.EqualTo("matrix rows failing through the gateway", Phases.Baseline, baseline["rows_failing_via_gateway"], 0),
            Verdict.EqualTo("matrix rows failing straight to the replica", Phases.Broken, broken["rows_failing_direct"], 0),
            Verdict.Above("matrix rows that pass direct and fail through the gateway", Phases.Broken, broken["rows_failing_only_via_gateway"], 0),
            Verdict.Above($"of them, rows answered {Chosen.Status} by the gateway", Phases.Broken, broken[$"rows_answered_{Chosen.Status}_via_gateway"], 0),
            Verdict.EqualTo("matrix rows failing through the gateway", Phases.Fixed, fix["rows_failing_via_gateway"], 0),
            Verdict.EqualTo("matrix rows failing straight to the replica", Phases.Fixed, fix["rows_failing_direct"], 0),
        ];
    }

    private static HttpRequestMessage Browse(long sequence) => Browse(sequence, cookies: null);

    /// <summary>A shopper's product page through the office proxy; every fourth shopper is logged in and sends the site's cookies.</summary>
    private static HttpRequestMessage Browse(long sequence, string? cookies)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, $"/api/products/{1 + sequence * 7919 % 1000}");
        request.Headers.Add("X-Forwarded-For", $"203.0.113.{1 + sequence % 200}");
        if (cookies is not null && sequence % 4 == 0)
        {
            request.Headers.Add("Cookie", cookies);
        }

        return request;
    }

    private static string RunFolder(ScenarioContext context) => Path.GetDirectoryName(context.Fleet.Logs)!;

    /// <summary>A logged-in browser's cookies for the shop: a session, preferences and a saved cart, each near the 4 KB a cookie may hold.</summary>
    private static string Cookies()
    {
        var random = new Random(13);
        string Value(int length) => Convert.ToBase64String(Enumerable.Range(0, length * 3 / 4).Select(_ => (byte)random.Next(256)).ToArray());
        return $"session={Value(4000)}; prefs={Value(4000)}; cart={Value(4000)}";
    }

    /// <summary>The back office's price list: every product, with its name as the ERP exports it, at a new price.</summary>
    private static async Task<string> PriceListAsync(string database, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(database);
        var products = await connection.QueryAsync<(string Sku, string Name, decimal Price)>(new CommandDefinition(
            "SELECT sku, name, price FROM products ORDER BY id", cancellationToken: cancellationToken));
        var csv = new StringBuilder("sku,name,price\n");
        foreach (var (sku, name, price) in products)
        {
            csv.Append(CultureInfo.InvariantCulture, $"{sku},\"{name}\",{Math.Floor(price) + 0.99m}\n");
        }

        return csv.ToString();
    }

    private sealed record OrderCreated(long Id, decimal Total);

    private sealed record MatrixData(IReadOnlyList<(long Id, decimal Total)> Orders, long PaidOrder, long Payment, string Cookies);
}
