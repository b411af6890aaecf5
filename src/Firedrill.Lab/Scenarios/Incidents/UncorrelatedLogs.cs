using System.Collections.Concurrent;
using System.Globalization;
using System.Net.Http.Json;
using Dapper;
using Firedrill.Lab.Fleet;
using Firedrill.Lab.Load;
using Npgsql;

namespace Firedrill.Lab.Scenarios.Incidents;

/// <summary>
/// SCENARIOS.md #11. Payments go through the gateway to the shop, which confirms stock with the
/// inventory service and publishes the payment through the outbox to Kafka, where the ledger
/// consumer applies it: four processes touch each payment. The lab samples payments, takes the
/// trace id each response returns, and looks for every process's log lines under it. Each variant
/// breaks one link: trace context dropped on HTTP, not carried through Kafka, or logs without ids.
/// </summary>
internal sealed partial class UncorrelatedLogs : Scenario<UncorrelatedLogs.Cause>
{
    /// <summary>Which services a variant's settings go to.</summary>
    internal enum Targets
    {
        Everyone,
        Shops,
    }

    /// <summary>A variant: its broken and fixed settings, where they go, and which link of the story it breaks.</summary>
    internal sealed record Cause(string Name, string Summary, Targets Targets, string Broken, string Fixed, string MissingPart,
        string Symptom, string RootCause, string FixText) : ScenarioVariant(Name, Summary);

    private const string OrdersKey = "orders";
    private const double BrowseRate = 20;
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(10);

    public override string Id => "uncorrelated-logs";

    public override string Title => "Logs everywhere, no request story";

    protected override IReadOnlyList<Cause> TypedVariants { get; } = AllCauses();

    public override SignalQuery KeySignal => Signals.Single(signal => signal.Name == KeySignalName);

    public override IReadOnlyList<SignalQuery> ChartSignals => Signals.Where(signal => signal.Name != KeySignalName).ToList();

    private string KeySignalName => Chosen.MissingPart switch
    {
        Parts.Shop => NewTraces,
        Parts.Consumer => OrphanMessages,
        _ => UnjoinableLines,
    };

    public override Runbook Runbook => new(Chosen.Symptom, Signals, Chosen.RootCause, Chosen.FixText);

    public override FleetOptions Fleet(FleetOptions defaults)
    {
        // Every service logs each request it serves (an access log), the line a trace id finds.
        const string AccessLog = "Logging:LogLevel:Microsoft.AspNetCore.Hosting.Diagnostics";
        return defaults with
        {
            Replicas = 1,
            RecordSpans = true,
            ShopSettings = new Dictionary<string, string>(defaults.ShopSettings)
            {
                [AccessLog] = "Information",
                // The payment's answer waits for inventory's confirmation: the request's story reaches a third process.
                ["Payments:ConfirmWithInventoryAfterCommit"] = "true",
                ["Jobs:InventorySyncEnabled"] = "false",
                ["Db:MaxPoolSize"] = "20",
            },
            InventorySettings = new Dictionary<string, string>(defaults.InventorySettings) { [AccessLog] = "Information" },
            GatewaySettings = new Dictionary<string, string>(defaults.GatewaySettings) { [AccessLog] = "Information" },
        };
    }

    /// <summary>
    /// Shorter than the default with --quick: the verdict counts ids in log lines, not latency, so
    /// the services need their paths compiled and their pools open, not a steady state.
    /// </summary>
    public override Task WarmUpAsync(ScenarioContext context, CancellationToken cancellationToken) =>
        context.WarmUpAsync(50, context.Duration(TimeSpan.FromSeconds(8), TimeSpan.FromSeconds(2)), cancellationToken);

    public override async Task SetupAsync(ScenarioContext context, CancellationToken cancellationToken)
    {
        using var client = context.GatewayClient(RequestTimeout);
        var orders = new ConcurrentBag<(long Id, decimal Total)>();
        await Parallel.ForAsync(0, Phases.All.Count * Sampled(context), new ParallelOptions { MaxDegreeOfParallelism = 4, CancellationToken = cancellationToken }, async (i, token) =>
        {
            using var response = await client.PostAsJsonAsync("/api/orders", new { customerId = 1 + i % 100, lines = new[] { new { productId = 1 + i % 1000, quantity = 1 } } }, token);
            response.EnsureSuccessStatusCode();
            var order = await response.Content.ReadFromJsonAsync<Created>(token) ?? throw new InvalidOperationException("An order without a body.");
            orders.Add((order.Id, order.Total));
        });
        var all = orders.OrderBy(order => order.Id).ToList();
        for (var phase = 0; phase < Phases.All.Count; phase++)
        {
            context.Items[OrdersKey + Phases.All[phase]] = all.Skip(phase * Sampled(context)).Take(Sampled(context)).ToList();
        }
    }

    public override Task ApplyAsync(ScenarioContext context, string phase, CancellationToken cancellationToken) => phase switch
    {
        Phases.Broken => ConfigureAsync(context, Chosen.Broken, cancellationToken),
        Phases.Fixed => ConfigureAsync(context, Chosen.Fixed, cancellationToken),
        _ => Task.CompletedTask,
    };

    private Task ConfigureAsync(ScenarioContext context, string json, CancellationToken cancellationToken) => Chosen.Targets == Targets.Shops
        ? context.Fleet.ConfigureShopsAsync(json, cancellationToken)
        : Task.WhenAll(context.Fleet.All.Select(service => service.ConfigureAsync(json, cancellationToken)));

    public override async Task<PhaseRun> DriveAsync(ScenarioContext context, string phase, CancellationToken cancellationToken)
    {
        var orders = (List<(long Id, decimal Total)>)context.Items[OrdersKey + phase];
        var duration = context.Duration(TimeSpan.FromSeconds(15), TimeSpan.FromSeconds(6));
        using var client = context.GatewayClient(RequestTimeout);
        var browsing = new LoadGenerator(client, context.Time).RunAsync(new LoadProfile
        {
            Model = LoadModel.Open,
            RatePerSecond = BrowseRate,
            Duration = duration,
            RequestTimeout = RequestTimeout,
            Mix =
            [
                new RequestTemplate("catalog", 3, sequence => new HttpRequestMessage(HttpMethod.Get, $"/api/products/{1 + sequence * 7919 % 1000}")),
                new RequestTemplate("availability", 1, sequence => new HttpRequestMessage(HttpMethod.Get, $"/api/products/{1 + sequence * 7919 % 1000}/availability")),
            ],
        }, context.Progress, cancellationToken);
        using var phaseOver = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var checkouts = CheckoutsAsync(client, Phases.All.ToList().IndexOf(phase), context.Time, phaseOver.Token);

        // The sampled requests: payments over the phase's first third; their events reach the
        // ledger, and the evidence is taken, while the shoppers' load goes on.
        var samples = await PayAsync(client, orders, duration / 3, context.Time, cancellationToken);
        await WaitForLedgerAsync(context.Fleet.DatabaseConnection, samples, context.Time, cancellationToken);
        var coverage = await LogCoverage.FindAsync(context.Fleet.Logs, samples.Select(sample => sample.TraceId).OfType<string>().ToList(), cancellationToken);
        if (phase != Phases.Baseline && samples.FirstOrDefault(sample => sample.TraceId is not null) is { TraceId: { } traceId })
        {
            await Task.WhenAll(
                context.Evidence.FiredrillAsync($"Log lines of one sampled payment ({phase})", phase, ["trace", traceId], cancellationToken),
                context.Evidence.FiredrillAsync($"Spans of the same payment ({phase})", phase, ["trace", traceId, "--tree"], cancellationToken));
        }

        var load = await browsing;
        // Checkouts last to the phase's end, so the consumer's rate at that moment is this phase's.
        await phaseOver.CancelAsync();
        await checkouts;
        var signals = new Dictionary<string, double>
        {
            ["payments_sent"] = orders.Count,
            ["sampled_payments"] = samples.Count(sample => sample.TraceId is not null),
            ["responses_without_trace_id"] = samples.Count(sample => sample.Answered && sample.TraceId is null),
            ["joinable_ratio"] = coverage.Ratio(Parts.All),
        };
        foreach (var part in Parts.All)
        {
            signals[$"with_{part}_ratio"] = coverage.Ratio([part]);
        }

        return new PhaseRun(load, signals);
    }

    public override IReadOnlyList<CheckResult> Check(IReadOnlyDictionary<string, PhaseResult> phases)
    {
        var (baseline, broken, fix) = (phases[Phases.Baseline].Signals, phases[Phases.Broken].Signals, phases[Phases.Fixed].Signals);
        return
        [
            Verdict.EqualTo("sampled payments joinable across gateway, shop, inventory and consumer (ratio)", Phases.Baseline, baseline["joinable_ratio"], 1),
            Verdict.AtMost("sampled payments joinable across gateway, shop, inventory and consumer (ratio)", Phases.Broken, broken["joinable_ratio"], 0.05),
            Verdict.AtMost($"sampled payments with {Chosen.MissingPart} lines under the returned trace id (ratio)", Phases.Broken, broken[$"with_{Chosen.MissingPart}_ratio"], 0.05),
            Verdict.EqualTo("sampled payments joinable across gateway, shop, inventory and consumer (ratio)", Phases.Fixed, fix["joinable_ratio"], 1),
            // Not a rate but a floor: "joinable = 1" must be over a real sample, not over the few payments that happened to answer.
            Verdict.AtLeast("sampled payments answered with a trace id", Phases.Fixed, fix["sampled_payments"], Math.Max(Math.Ceiling(fix["payments_sent"] / 4), 1)),
            Verdict.EqualTo("responses without a trace id", Phases.Fixed, fix["responses_without_trace_id"], 0),
        ];
    }

    private static int Sampled(ScenarioContext context) => context.Quick ? 12 : 30;

    /// <summary>Pays each order once, evenly over <paramref name="spread"/>, and keeps the trace id each answer returned.</summary>
    private static async Task<List<Sample>> PayAsync(HttpClient client, List<(long Id, decimal Total)> orders, TimeSpan spread, TimeProvider time, CancellationToken cancellationToken)
    {
        var gap = spread / Math.Max(orders.Count, 1);
        var payments = new List<Task<Sample>>();
        foreach (var (id, total) in orders)
        {
            payments.Add(PayOnceAsync(client, id, total, cancellationToken));
            await Task.Delay(gap, time, cancellationToken);
        }

        return [.. await Task.WhenAll(payments)];
    }

    private static async Task<Sample> PayOnceAsync(HttpClient client, long orderId, decimal total, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/payments")
        {
            Content = JsonContent.Create(new { orderId, amount = total, currency = "EUR" }),
        };
        request.Headers.Add("Idempotency-Key", $"uncorrelated-{orderId}");
        try
        {
            using var response = await client.SendAsync(request, cancellationToken);
            var payment = response.IsSuccessStatusCode ? await response.Content.ReadFromJsonAsync<Created>(cancellationToken) : null;
            return new Sample(true, TraceIdOf(response), payment?.Id);
        }
        catch (HttpRequestException)
        {
            return new Sample(false, null, null);
        }
    }

    /// <summary>The trace id in <c>traceresponse: 00-{trace-id}-{span-id}-{flags}</c>.</summary>
    private static string? TraceIdOf(HttpResponseMessage response) =>
        response.Headers.TryGetValues("traceresponse", out var values) && values.FirstOrDefault()?.Split('-') is [_, { Length: 32 } traceId, _, _]
            ? traceId
            : null;

    /// <summary>Until every sampled payment's event is applied to the ledger (bounded), and its lines are written.</summary>
    private static async Task WaitForLedgerAsync(string database, IReadOnlyList<Sample> samples, TimeProvider time, CancellationToken cancellationToken)
    {
        var events = samples.Where(sample => sample.PaymentId is not null).Select(sample => $"payment-accepted-{sample.PaymentId}").ToArray();
        await using var connection = new NpgsqlConnection(database);
        var deadline = time.GetUtcNow() + TimeSpan.FromSeconds(10);
        while (time.GetUtcNow() < deadline && await connection.ExecuteScalarAsync<long>(new CommandDefinition(
            "SELECT count(*) FROM processed_events WHERE event_id = ANY(@events)", new { events }, cancellationToken: cancellationToken)) < events.Length)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(200), time, cancellationToken);
        }

        // The consumer logs after it commits, and spans are exported every 500 ms.
        await Task.Delay(TimeSpan.FromSeconds(1), time, cancellationToken);
    }

    private sealed record Created(long Id, decimal Total);

    /// <summary>A sampled payment: whether it was answered, the trace id the answer returned, the payment it made.</summary>
    private sealed record Sample(bool Answered, string? TraceId, long? PaymentId);
}
