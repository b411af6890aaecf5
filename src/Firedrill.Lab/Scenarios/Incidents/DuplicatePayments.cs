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
/// client gave up. Without idempotency, each retry charges again; with the Idempotency-Key path,
/// the retry gets the first answer replayed.
/// </summary>
internal sealed class DuplicatePayments : Scenario<DuplicatePayments.Cause>
{
    /// <summary>
    /// A variant: who gives up on the slow answer. The client's own timeout, or the gateway's
    /// (null: the gateway's default 30 s), after which the gateway answers 504 and the client retries.
    /// </summary>
    internal sealed record Cause(string Name, string Summary, TimeSpan ClientTimeout, TimeSpan? GatewayTimeout) : ScenarioVariant(Name, Summary);

    private const string OrdersKey = "orders";
    private const int Payers = 6;
    private const int MaxAttempts = 4;

    protected override IReadOnlyList<Cause> TypedVariants { get; } =
    [
        new("late-answer", "the answer arrives after the client's 500 ms timeout; the client retries", TimeSpan.FromMilliseconds(500), null),
        new("gateway-504", "the gateway gives up after 400 ms and answers 504 after the shop committed; the client retries on 504",
            TimeSpan.FromSeconds(5), TimeSpan.FromMilliseconds(400)),
    ];

    private TimeSpan ClientTimeout => Chosen.ClientTimeout;

    public override string Id => "duplicate-payments";

    public override string Title => "Retries create duplicate charges";

    public override SignalQuery KeySignal => new(
        "payments written per second", """sum(rate(firedrill_payments_idempotency_total{outcome="created"}[5s])) or vector(0)""",
        "Payments the shop committed through the idempotent path.");

    public override Runbook Runbook => new(
        "Customers are charged twice (or three times) for one order, always when the payment API was slow.",
        [
            new("Payments written", """sum(rate(http_server_request_duration_seconds_count{service=~"shop-.*", http_route="/payments/", http_response_status_code="201"}[1m]))""",
                "More payments written than orders paid; in PostgreSQL, SELECT order_id, count(*) FROM payments GROUP BY order_id HAVING count(*) > 1 lists the orders charged twice."),
            new("Slow answers after commit", """histogram_quantile(0.99, sum by (le) (rate(http_server_request_duration_seconds_bucket{service=~"shop-.*", http_route="/payments/"}[30s])))""",
                "The payment endpoint's p99 is above the client's timeout: the client gives up on answers that are still coming."),
            new("Idempotent replays", """sum(rate(firedrill_payments_idempotency_total{outcome="replayed"}[1m]))""",
                "With the fix, retries show up as replays instead of new payments."),
        ],
        "The client retries after a timeout, but the timeout does not mean the payment failed: the shop had committed it and was still busy (a slow post-commit call). The endpoint ignores the Idempotency-Key (Payments:IdempotencyEnabled=false), so every retry is a new charge.",
        "Idempotency-Key: the key is a primary key in PostgreSQL, claimed before the work and completed in the payment's transaction; a retry gets the first response replayed, a concurrent duplicate 409, the same key with another body 422.");

    public override FleetOptions Fleet(FleetOptions defaults) => defaults with
    {
        Replicas = 2,
        GatewaySettings = Chosen.GatewayTimeout is { } gatewayTimeout
            ? new Dictionary<string, string>(defaults.GatewaySettings) { ["Gateway:RequestTimeout"] = gatewayTimeout.ToString("c", CultureInfo.InvariantCulture) }
            : defaults.GatewaySettings,
        ShopSettings = new Dictionary<string, string>(defaults.ShopSettings)
        {
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
        var count = context.Quick ? 300 : 900;
        using var client = context.GatewayClient(TimeSpan.FromSeconds(10));
        var orders = new ConcurrentBag<(long Id, decimal Total)>();
        await Parallel.ForAsync(0, count, new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = cancellationToken }, async (i, token) =>
        {
            var body = $$"""{"customerId": {{1 + i % 100}}, "lines": [{"productId": {{1 + i % 1000}}, "quantity": 1}]}""";
            using var response = await client.PostAsync("/api/orders", new StringContent(body, Encoding.UTF8, "application/json"), token);
            response.EnsureSuccessStatusCode();
            using var json = await System.Text.Json.JsonDocument.ParseAsync(await response.Content.ReadAsStreamAsync(token), cancellationToken: token);
            orders.Add((json.RootElement.GetProperty("id").GetInt64(), json.RootElement.GetProperty("total").GetDecimal()));
        });

        // Each phase pays its own orders: a fifth for the baseline, two fifths each for broken and fixed.
        var all = orders.OrderBy(order => order.Id).ToList();
        var fifth = all.Count / 5;
        context.Items[OrdersKey + Phases.Baseline] = new ConcurrentQueue<(long, decimal)>(all.Take(fifth));
        context.Items[OrdersKey + Phases.Broken] = new ConcurrentQueue<(long, decimal)>(all.Skip(fifth).Take(2 * fifth));
        context.Items[OrdersKey + Phases.Fixed] = new ConcurrentQueue<(long, decimal)>(all.Skip(3 * fifth));
    }

    public override async Task ApplyAsync(ScenarioContext context, string phase, CancellationToken cancellationToken)
    {
        await context.Fleet.Inventory.ConfigureAsync(phase == Phases.Baseline
            ? """{"Inventory:LatencyMs": 0}"""
            : """{"Inventory:LatencyMs": 600, "Inventory:LatencyDistribution": "Uniform"}""", cancellationToken);
        await context.Fleet.ConfigureShopsAsync(phase == Phases.Broken
            ? """{"Payments:IdempotencyEnabled": false}"""
            : """{"Payments:IdempotencyEnabled": true}""", cancellationToken);
    }

    public override async Task<PhaseRun> DriveAsync(ScenarioContext context, string phase, CancellationToken cancellationToken)
    {
        var orders = (ConcurrentQueue<(long Id, decimal Total)>)context.Items[OrdersKey + phase];
        var duration = phase == Phases.Baseline
            ? context.Duration(TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(5))
            : context.Duration(TimeSpan.FromSeconds(20), TimeSpan.FromSeconds(9));
        using var client = context.GatewayClient(ClientTimeout);
        var recorder = new AttemptRecorder("payment");
        var acknowledged = new ConcurrentBag<long>();
        var paid = new ConcurrentBag<long>();
        var retries = 0L;
        var stopAt = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        await Task.WhenAll(Enumerable.Range(0, Payers).Select(async _ =>
        {
            while (Stopwatch.GetTimestamp() < stopAt && orders.TryDequeue(out var order))
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
                        break;
                    }

                    // A retrying client as real ones are written: a short pause, the same key, the same body.
                    await Task.Delay(status == HttpStatusCode.Conflict ? 200 : 100, cancellationToken);
                }
            }
        }));

        var load = recorder.ToResult();
        var signals = await CountChargesAsync(context.Fleet.DatabaseConnection, paid.ToArray(), acknowledged.ToArray(), cancellationToken);
        signals["client_retries"] = retries;
        signals["client_timeouts"] = load.Total.Outcomes.GetValueOrDefault("timeout");
        return new PhaseRun(load, signals);
    }

    private async Task<HttpStatusCode?> PayOnceAsync(HttpClient client, AttemptRecorder recorder, string key, string body, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/payments") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Add("Idempotency-Key", key);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(ClientTimeout);
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
        return new Dictionary<string, double>
        {
            ["orders_paid"] = paid.Length,
            ["acknowledged"] = acknowledged.Length,
            ["duplicate_charges"] = counts.Values.Sum(payments => Math.Max(0, payments - 1)),
            ["orders_charged_twice_or_more"] = counts.Values.Count(payments => payments > 1),
            ["acknowledged_exactly_once_ratio"] = acknowledged.Length == 0 ? 0 : Math.Round((double)exactlyOnce / acknowledged.Length, 4),
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
            // The fault must still be on while the fix is judged: retries really happened.
            Verdict.Above("client retries after a late answer", Phases.Fixed, fix["client_retries"], 0),
        ];
    }
}
