using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using Dapper;
using Firedrill.Lab.Fleet;
using Firedrill.Lab.Load;
using Npgsql;

namespace Firedrill.Lab.Scenarios.Incidents;

/// <summary>
/// SCENARIOS.md #5. A payment client with a timeout retries; the shop commits the payment and
/// then makes a post-commit call to a slow inventory service, so some answers arrive after the
/// client (or the gateway) gave up. The shop as shipped has neither defence against a double
/// charge — it ignores the Idempotency-Key, and the order accepts any number of payments (no
/// check, no unique index) — so each retry charges again. The fix restores both.
/// </summary>
internal sealed class DuplicatePayments : Scenario<DuplicatePayments.Cause>
{
    /// <summary>
    /// A variant: who gives up on the slow answer. The client's own timeout, or the gateway's
    /// (null: the gateway's default 30 s), after which the gateway answers 504 and the client retries.
    /// </summary>
    internal sealed record Cause(string Name, string Summary, TimeSpan ClientTimeout, TimeSpan? GatewayTimeout) : ScenarioVariant(Name, Summary);

    private const string OrdersKey = "orders";
    private const double PaymentsPerSecond = 10;
    private const int MaxAttempts = 4;
    private const string UniqueIndex = "payments_one_accepted_per_order";

    private const string ChargedTwiceSql =
        "SELECT order_id, count(*) AS payments, sum(amount) AS charged, string_agg(id::text, ', ' ORDER BY id) AS payment_ids " +
        "FROM payments WHERE status = 'accepted' GROUP BY order_id HAVING count(*) > 1 ORDER BY order_id LIMIT 10";

    protected override IReadOnlyList<Cause> TypedVariants { get; } =
    [
        new("late-answer", "the answer arrives after the client's 500 ms timeout; the client retries", TimeSpan.FromMilliseconds(500), null),
        new("gateway-504", "the gateway gives up after 400 ms and answers 504 after the shop committed; the client retries on 504",
            TimeSpan.FromSeconds(5), TimeSpan.FromMilliseconds(400)),
    ];

    public override string Id => "duplicate-payments";

    public override string Title => "Retries create duplicate charges";

    public override SignalQuery KeySignal => new(
        "payments written per second", """sum(rate(firedrill_payments_written_total[5s])) or vector(0)""",
        "Payments the shop committed, first charges and duplicates alike.");

    public override IReadOnlyList<SignalQuery> ChartSignals =>
    [
        new("duplicate charges per second", """sum(rate(firedrill_payments_written_total{charge="duplicate"}[5s])) or vector(0)""",
            "Payments written for an order that was already paid."),
    ];

    public override Runbook Runbook => new(
        "Customers are charged twice (or three times) for one order, always when the payment API was slow.",
        [
            new("Duplicate charges", """sum(increase(firedrill_payments_written_total{charge="duplicate"}[10s])) or vector(0)""",
                "Payments written for orders already paid; in PostgreSQL, " + ChargedTwiceSql + " lists the orders charged twice."),
            new("Payments written", """sum(rate(firedrill_payments_written_total[10s]))""",
                "More payments written per second than orders paid."),
            new("Slow answers after commit", """histogram_quantile(0.99, sum by (le) (rate(http_server_request_duration_seconds_bucket{service=~"shop-.*", http_route="/payments/"}[10s])))""",
                Chosen.GatewayTimeout is { } gateway
                    ? $"The payment endpoint's p99 is above the gateway's {gateway.TotalMilliseconds:0} ms timeout: the gateway answers 504 for payments that are still being committed."
                    : $"The payment endpoint's p99 is above the client's {Chosen.ClientTimeout.TotalMilliseconds:0} ms timeout: the client gives up on answers that are still coming."),
            new("Idempotent replays", """sum(rate(firedrill_payments_idempotency_total{outcome="replayed"}[10s])) or vector(0)""",
                "Zero while the key is ignored; with the fix, retries show up as replays instead of new payments."),
        ],
        (Chosen.GatewayTimeout is { } timeout
            ? $"The gateway times out after {timeout.TotalMilliseconds:0} ms (Gateway:RequestTimeout) and answers 504, and the client retries on 504"
            : $"The client times out after {Chosen.ClientTimeout.TotalMilliseconds:0} ms and retries")
        + ", but neither a timeout nor a 504 means the payment failed: the shop had committed it and was still busy (a slow post-commit call to inventory). "
        + "Both defences are missing: the endpoint ignores the Idempotency-Key (Payments:IdempotencyEnabled=false selects PaymentService.PayIgnoringKeyAsync), "
        + "and the order accepts any number of payments (Payments:OnePaymentPerOrder=false skips the paid-order check in PaymentService.InsertAsync, and the unique index "
        + UniqueIndex + " of Data/Migrations/0003_order_payment_invariants.sql was never created). So every retry is a new charge.",
        "Two defences, in src/Firedrill.Shop/Features/Payments/PaymentService.cs. First the Idempotency-Key (PayOnceAsync): the key is a primary key in PostgreSQL, "
        + "claimed before the work and completed in the payment's transaction; a retry gets the first response replayed, a concurrent duplicate 409, the same key with "
        + "another body 422. Second the order (InsertAsync): its row is locked, a paid order refuses another payment with 409 pointing at the first, and the unique index "
        + UniqueIndex + " enforces one accepted payment per order whatever path writes it. To deploy the index, refund the duplicates already taken, then CREATE UNIQUE INDEX CONCURRENTLY.");

    public override FleetOptions Fleet(FleetOptions defaults) => defaults with
    {
        Replicas = 2,
        GatewaySettings = Chosen.GatewayTimeout is { } gatewayTimeout
            ? new Dictionary<string, string>(defaults.GatewaySettings) { ["Gateway:RequestTimeout"] = gatewayTimeout.ToString("c", CultureInfo.InvariantCulture) }
            : defaults.GatewaySettings,
        ShopSettings = new Dictionary<string, string>(defaults.ShopSettings)
        {
            // As shipped in this incident: neither defence.
            ["Payments:IdempotencyEnabled"] = "false",
            ["Payments:OnePaymentPerOrder"] = "false",
            ["Payments:ConfirmWithInventoryAfterCommit"] = "true",
            // The post-commit call must finish (slowly), not be cut short by the shop's own timeout.
            ["InventoryClient:AttemptTimeout"] = "00:00:03",
            ["InventoryClient:TotalTimeout"] = "00:00:05",
            ["InventoryClient:MaxRetries"] = "0",
            ["Jobs:InventorySyncEnabled"] = "false",
        },
    };

    public override async Task SetupAsync(ScenarioContext context, CancellationToken cancellationToken)
    {
        // The schema as the team shipped it: without the order's unique index.
        await using (var connection = new NpgsqlConnection(context.Fleet.DatabaseConnection))
        {
            await connection.OpenAsync(cancellationToken);
            await connection.ExecuteAsync(new CommandDefinition($"DROP INDEX {UniqueIndex}", cancellationToken: cancellationToken));
        }

        var perPhase = Phases.All.ToDictionary(phase => phase, phase => (int)Math.Ceiling(PhaseLength(context, phase).TotalSeconds * PaymentsPerSecond * 1.2));
        // Straight to a replica: placing the orders is preparation, not what is measured (and the
        // gateway-504 variant's short gateway timeout is for payments).
        using var client = LoadHttpClient.Create(context.Fleet.Shops[0].Address);
        client.Timeout = TimeSpan.FromSeconds(10);
        var orders = new ConcurrentBag<(long Id, decimal Total)>();
        await Parallel.ForAsync(0, perPhase.Values.Sum(), new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = cancellationToken }, async (i, token) =>
        {
            var body = $$"""{"customerId": {{1 + i % 100}}, "lines": [{"productId": {{1 + i % 1000}}, "quantity": 1}]}""";
            using var response = await client.PostAsync("/orders", new StringContent(body, Encoding.UTF8, "application/json"), token);
            response.EnsureSuccessStatusCode();
            using var json = await System.Text.Json.JsonDocument.ParseAsync(await response.Content.ReadAsStreamAsync(token), cancellationToken: token);
            orders.Add((json.RootElement.GetProperty("id").GetInt64(), json.RootElement.GetProperty("total").GetDecimal()));
        });

        // Each phase pays its own orders.
        var queue = new Queue<(long, decimal)>(orders.OrderBy(order => order.Id));
        foreach (var phase in Phases.All)
        {
            context.Items[OrdersKey + phase] = new ConcurrentQueue<(long, decimal)>(Enumerable.Range(0, perPhase[phase]).Select(_ => queue.Dequeue()));
        }
    }

    public override async Task ApplyAsync(ScenarioContext context, string phase, CancellationToken cancellationToken)
    {
        await context.Fleet.Inventory.ConfigureAsync(phase == Phases.Baseline
            ? """{"Inventory:LatencyMs": 0}"""
            : """{"Inventory:LatencyMs": 600, "Inventory:LatencyDistribution": "Uniform"}""", cancellationToken);
        if (phase != Phases.Fixed)
        {
            return;
        }

        // The fix, in the order a team deploys it: the code's two defences first (new requests are
        // safe from now on), then the duplicates already taken are refunded, so that the index
        // that enforces one accepted payment per order can be built without blocking writes.
        await context.Fleet.ConfigureShopsAsync("""{"Payments:IdempotencyEnabled": true, "Payments:OnePaymentPerOrder": true}""", cancellationToken);
        await context.Evidence.PsqlAsync("The fix, in the database: refund the duplicate charges already taken", phase,
            "UPDATE payments p SET status = 'refunded' WHERE status = 'accepted' " +
            "AND id > (SELECT min(id) FROM payments f WHERE f.order_id = p.order_id AND f.status = 'accepted')", cancellationToken);
        await context.Evidence.PsqlAsync("The fix, in the database: one accepted payment per order (migration 0003's index, built online)", phase,
            $"CREATE UNIQUE INDEX CONCURRENTLY {UniqueIndex} ON payments (order_id) WHERE status = 'accepted'", cancellationToken);
    }

    public override async Task<PhaseRun> DriveAsync(ScenarioContext context, string phase, CancellationToken cancellationToken)
    {
        var orders = (ConcurrentQueue<(long Id, decimal Total)>)context.Items[OrdersKey + phase];
        var duration = PhaseLength(context, phase);
        using var client = context.GatewayClient(Chosen.ClientTimeout);
        var recorder = new AttemptRecorder("payment");
        var acknowledged = new ConcurrentBag<long>();
        var paid = new ConcurrentBag<long>();
        var retries = 0L;

        // A steady arrival of customers paying (an open model: one new payment every 100 ms
        // whatever the shop's latency), each retrying as real payment clients are written to.
        var payers = new List<Task>();
        var started = Stopwatch.GetTimestamp();
        using var ticks = new PeriodicTimer(TimeSpan.FromSeconds(1 / PaymentsPerSecond), context.Time);
        do
        {
            if (!orders.TryDequeue(out var order))
            {
                break;
            }

            payers.Add(PayWithRetriesAsync(order));
        }
        while (Stopwatch.GetElapsedTime(started) < duration && await ticks.WaitForNextTickAsync(cancellationToken));

        await Task.WhenAll(payers);
        var load = recorder.ToResult();
        if (phase != Phases.Baseline)
        {
            await context.Evidence.PsqlAsync("Orders charged more than once", phase, ChargedTwiceSql, cancellationToken);
        }

        var signals = await CountChargesAsync(context.Fleet.DatabaseConnection, paid.ToArray(), acknowledged.ToArray(), cancellationToken);
        signals["client_retries"] = retries;
        signals["client_timeouts"] = load.Total.Outcomes.GetValueOrDefault("timeout");
        signals["gateway_504s"] = load.Total.Outcomes.GetValueOrDefault("504");
        return new PhaseRun(load, signals);

        async Task PayWithRetriesAsync((long Id, decimal Total) order)
        {
            paid.Add(order.Id);
            var key = Guid.NewGuid().ToString();
            var body = string.Create(CultureInfo.InvariantCulture, $$"""{"orderId": {{order.Id}}, "amount": {{order.Total}}, "currency": "EUR"}""");
            for (var attempt = 1; attempt <= MaxAttempts; attempt++)
            {
                if (attempt > 1)
                {
                    Interlocked.Increment(ref retries);
                }

                var status = await PayOnceAsync(client, recorder, key, body, cancellationToken);
                if (status == HttpStatusCode.Created)
                {
                    acknowledged.Add(order.Id);
                    return;
                }

                // A short pause, then the same key and the same body.
                await Task.Delay(status == HttpStatusCode.Conflict ? 200 : 100, cancellationToken);
            }
        }
    }

    private static TimeSpan PhaseLength(ScenarioContext context, string phase) => phase == Phases.Baseline
        ? context.Duration(TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(5))
        : context.Duration(TimeSpan.FromSeconds(20), TimeSpan.FromSeconds(8));

    private async Task<HttpStatusCode?> PayOnceAsync(HttpClient client, AttemptRecorder recorder, string key, string body, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/payments") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Add("Idempotency-Key", key);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(Chosen.ClientTimeout);
        var started = Stopwatch.GetTimestamp();
        try
        {
            using var response = await client.SendAsync(request, timeout.Token);
            recorder.Record("payment", started, ((int)response.StatusCode).ToString(CultureInfo.InvariantCulture), error: (int)response.StatusCode >= 500);
            return response.StatusCode;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            recorder.Record("payment", started, "timeout", error: true);
            return null;
        }
        catch (HttpRequestException ex)
        {
            recorder.Record("payment", started, ex.GetType().Name, error: true);
            return null;
        }
    }

    /// <summary>The truth is in PostgreSQL: how many payments each order the client paid has.</summary>
    private static async Task<Dictionary<string, double>> CountChargesAsync(string database, long[] paid, long[] acknowledged, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(database);
        await connection.OpenAsync(cancellationToken);
        var counts = (await connection.QueryAsync<(long OrderId, long Payments)>(new CommandDefinition(
            "SELECT order_id, count(*) FROM payments WHERE order_id = ANY(@paid) GROUP BY order_id", new { paid }, cancellationToken: cancellationToken)))
            .ToDictionary(row => row.OrderId, row => row.Payments);
        var exactlyOnce = acknowledged.Count(id => counts.GetValueOrDefault(id) == 1);
        var index = await connection.ExecuteScalarAsync<bool>(new CommandDefinition(
            "SELECT EXISTS (SELECT 1 FROM pg_indexes WHERE indexname = @UniqueIndex)", new { UniqueIndex }, cancellationToken: cancellationToken));
        return new Dictionary<string, double>
        {
            ["orders_paid"] = paid.Length,
            ["acknowledged"] = acknowledged.Length,
            ["duplicate_charges"] = counts.Values.Sum(payments => Math.Max(0, payments - 1)),
            ["orders_charged_twice_or_more"] = counts.Values.Count(payments => payments > 1),
            ["acknowledged_exactly_once_ratio"] = acknowledged.Length == 0 ? 0 : Math.Round((double)exactlyOnce / acknowledged.Length, 4),
            ["unique_index_present"] = index ? 1 : 0,
        };
    }

    public override IReadOnlyList<CheckResult> Check(IReadOnlyDictionary<string, PhaseResult> phases)
    {
        var broken = phases[Phases.Broken].Signals;
        var fix = phases[Phases.Fixed].Signals;
        return
        [
            Verdict.Above("duplicate charges", Phases.Broken, broken["duplicate_charges"], 0),
            Verdict.EqualTo("duplicate charges", Phases.Fixed, fix["duplicate_charges"], 0),
            Verdict.EqualTo("acknowledged payments recorded exactly once (ratio)", Phases.Fixed, fix["acknowledged_exactly_once_ratio"], 1),
            Verdict.EqualTo("the order's unique index is in place", Phases.Fixed, fix["unique_index_present"], 1),
            // The fault must still be on while the fix is judged: retries really happened.
            Verdict.Above("client retries after a late answer", Phases.Fixed, fix["client_retries"], 0),
        ];
    }
}
