namespace Firedrill.Lab.Scenarios.Incidents;

/// <summary>The variants, the runbook's queries and the checks: what each way of cascading looks like.</summary>
internal sealed partial class BreakerCascade
{
    private const string InventoryCalls = "firedrill_inventory_requests_total";
    private const string Openings = """resilience_polly_strategy_events_total{event_name="OnCircuitOpened"}""";
    private const string Retries = """resilience_polly_strategy_events_total{event_name="OnRetry"}""";

    public override SignalQuery KeySignal => Chosen.Name switch
    {
        "expensive-fallback" => new("database seconds per second", """sum(rate(db_client_operation_duration_seconds_sum{service=~"shop-.*"}[5s])) or vector(0)""",
            "Time the shop's queries spent in PostgreSQL, per second of wall time: above 1, queries are queuing for the database's two cores."),
        "shared-pool" => new("availability answered without inventory per second", CounterQueries.Rate("firedrill_inventory_fallbacks_total", 5),
            "Stock reads that fell back to \"unknown\" although inventory answers reads as fast as ever: they could not get a connection."),
        _ => new("inventory calls per second", CounterQueries.Rate(InventoryCalls, 5),
            "Calls inventory finished per second (served, refused or abandoned by the caller): the load it is under, retries included."),
    };

    public override IReadOnlyList<SignalQuery> ChartSignals =>
    [
        new("breaker state (0 closed, 1 half-open, 2 open)", """max(firedrill_inventory_breaker_state) or vector(-1)""",
            "The inventory breaker's state from Polly's state provider; -1 when there is no breaker."),
        new("inventory queue", """sum(firedrill_inventory_queued) or vector(0)""", "Calls waiting at inventory for one of its three permits."),
        .. Chosen.Name == "expensive-fallback" ? [PoolWaiting] : Array.Empty<SignalQuery>(),
    ];

    private static readonly SignalQuery PoolWaiting = new("requests waiting for a pooled connection", PoolWaitingQuery,
        "Requests queued in the replica's Npgsql pool (Db:MaxPoolSize = 10) for a connection: the fallback's queries hold them all.");

    private const string PoolWaitingQuery = """sum(db_client_connection_npgsql_pending_requests{service=~"shop-.*"}) or vector(0)""";

    public override Runbook Runbook => new(
        Chosen.Symptom,
        [
            new("Calls inventory receives", CounterQueries.Rate(InventoryCalls, 5),
                "Compare with the storefront's own rate (25 operations a second): a multiple is amplification — retries at several layers, each answered by a new call."),
            new("Breaker openings (Polly)", CounterQueries.Increase(Openings, "10s"), "Zero while inventory is failing means the breaker never saw the failures."),
            new("Breaker state", """max(firedrill_inventory_breaker_state) or vector(-1)""", "2 is open: calls fail fast and inventory is left alone to recover."),
            new("Retries (Polly)", CounterQueries.Rate(Retries, 5), "The shop's own retries per second; with a retry budget they stop when inventory fails."),
            new("Inventory queue", """sum(firedrill_inventory_queued) or vector(0)""",
                "Calls waiting at inventory. Still queued after the fault ended: the retries alone keep it overloaded."),
            new("Database time per second", """sum(rate(db_client_operation_duration_seconds_sum{service=~"shop-.*"}[5s])) or vector(0)""",
                "Seconds of query time per second in the shop: where the overload goes when the fallback itself queries."),
            new("Requests waiting for a pooled connection", PoolWaitingQuery,
                "Npgsql's own gauge: above zero, every connection of the pool is held and requests queue for one — catalog searches behind the fallback's queries."),
            new("Availability fallbacks", CounterQueries.Rate("firedrill_inventory_fallbacks_total", 5), "Availability answered without inventory (the breaker open, a timeout, no connection)."),
        ],
        Chosen.RootCause,
        Chosen.FixText);

    private static List<Cause> AllCauses() =>
    [
        new("timeout-outside-breaker", "the attempt timeout wraps the breaker: slow calls are cancelled, never counted as failures, and the breaker never opens",
            """{"InventoryClient:AttemptTimeoutPlacement": "OutsideBreaker"}""",
            """{"InventoryClient:AttemptTimeoutPlacement": "InsideBreaker"}""",
            FaultLatencyMs: 2000, FaultScope: "All", [Availability], ClientRetryPolicy.Immediate(4), ClientRetryPolicy.Immediate(4))
        {
            // The stock check on the product page has no fallback here: a failed check is an error the storefront retries.
            ShopSettings = new Dictionary<string, string> { ["InventoryClient:FallbackEnabled"] = "false" },
            Symptom = "Inventory hangs; every stock check waits for its timeout and fails with 503, the storefront retries, and inventory keeps receiving every attempt: the circuit breaker, which should fail them at once and leave inventory alone, never opens.",
            RootCause = "The attempt timeout sits outside the circuit breaker (InventoryClient:AttemptTimeoutPlacement = OutsideBreaker; the pipeline is built in src/Firedrill.Shop/Features/Inventory/InventoryClientExtensions.cs, Build). When it fires it cancels the call inside the breaker, and Polly's breaker takes a cancellation for no outcome at all: the slow calls are never failures, the failure ratio stays at zero, the breaker never opens. Every stock check waits out its timeout at the hung inventory, the storefront retries each 503, and every attempt reaches inventory again.",
            FixText = "Put the attempt timeout inside the breaker (InsideBreaker, the default): the breaker sees TimeoutRejectedException, counts it and opens after a handful; stock checks then fail at once without calling inventory, which is left alone to recover, and half-open probes close the breaker when it is back.",
            Checks = (_, broken, fix) =>
            [
                Verdict.EqualTo("breaker openings while inventory hung", Phases.Broken, broken["breaker_openings"], 0),
                Verdict.AtLeast("inventory calls per user operation while it hung", Phases.Broken, broken["amplification"], 1.5),
                Verdict.Above("breaker openings while inventory hung", Phases.Fixed, fix["breaker_openings"], 0),
                Verdict.AtMost("inventory calls per user operation while it hung", Phases.Fixed, fix["amplification"], 1.3),
                Verdict.AtMost("seconds for inventory to recover after its fault", Phases.Fixed, fix["inventory_recovery_s"], 3),
            ],
        },
        new("retry-storm", "retries at the client and in the shop, at once and without a budget, multiply the calls on a struggling inventory until it cannot recover",
            """{"InventoryClient:CircuitBreakerEnabled": false, "InventoryClient:MaxConcurrentCalls": 0, "InventoryClient:MaxRetries": 3, "InventoryClient:RetryBaseDelay": "00:00:00", "InventoryClient:RetryJitter": false, "InventoryClient:RetryBudgetRatio": 0}""",
            """{"InventoryClient:CircuitBreakerEnabled": true, "InventoryClient:MaxConcurrentCalls": 32, "InventoryClient:MaxRetries": 2, "InventoryClient:RetryBaseDelay": "00:00:00.100", "InventoryClient:RetryJitter": true, "InventoryClient:RetryBudgetRatio": 0.1}""",
            FaultLatencyMs: 2000, FaultScope: "All", [Availability], ClientRetryPolicy.Immediate(4), new ClientRetryPolicy(2, TimeSpan.FromMilliseconds(300), Jitter: true))
        {
            ShopSettings = new Dictionary<string, string> { ["InventoryClient:FallbackEnabled"] = "false" },
            Symptom = "Inventory hung for a few seconds; when it came back it stayed down — its queue full, every call timing out — while the storefront's traffic had not grown at all.",
            RootCause = "Retries at two layers, immediate and unbudgeted: the storefront's client tries each operation four times, and the shop retries each call three more times with no delay, no jitter and no budget (InventoryClient:MaxRetries = 3, RetryBaseDelay = 0, RetryBudgetRatio = 0; RetryBudget in src/Firedrill.Shop/Features/Inventory/RetryBudget.cs), with nothing to stop them (no breaker, no bulkhead: InventoryClient:CircuitBreakerEnabled = false, MaxConcurrentCalls = 0). While inventory fails each user operation becomes about a dozen calls; once it is back, that load is more than its capacity, so calls queue past their timeouts, fail and are retried: the storm sustains itself after its cause is gone.",
            FixText = "Retry in one place, with exponential backoff, jitter and a budget (gRPC-style retry throttling: retries stop once the dependency fails, InventoryClient:RetryBudgetRatio = 0.1), behind a circuit breaker and a bulkhead; the client backs off too. Inventory then receives each operation about once, and recovers as soon as its fault ends.",
            Checks = (_, broken, fix) =>
            [
                Verdict.AtLeast("inventory calls per user operation while it hung", Phases.Broken, broken["amplification"], 3),
                Verdict.AtLeast("seconds inventory stayed overloaded after its fault", Phases.Broken, broken["inventory_recovery_s"], 2),
                Verdict.AtMost("inventory calls per user operation while it hung", Phases.Fixed, fix["amplification"], 1.3),
                Verdict.AtMost("seconds for inventory to recover after its fault", Phases.Fixed, fix["inventory_recovery_s"], 3),
            ],
        },
        new("expensive-fallback", "the fallback runs the sales trend report's query for every failed call: the breaker opens and the overload moves to the database",
            """{"InventoryClient:Fallback": "SalesTrendEstimate"}""",
            """{"InventoryClient:Fallback": "Unknown"}""",
            FaultLatencyMs: 2000, FaultScope: "All", [Availability, Search], ClientRetryPolicy.Immediate(4), ClientRetryPolicy.Immediate(4))
        {
            Symptom = "Inventory failed and the breaker opened as designed — yet the whole shop slowed down: catalog searches, which never call inventory, take a second instead of a few milliseconds or time out, and PostgreSQL is at full CPU.",
            RootCause = "The availability fallback is expensive (InventoryClient:Fallback = SalesTrendEstimate; SalesTrendEstimate in src/Firedrill.Shop/Features/Inventory/SalesTrendEstimate.cs): it estimates stock from the year's sales trend, the report's query over every product and every day, for each failed call. With the breaker open every availability request takes the fallback, so the load that inventory no longer receives lands on the database: the reports' queries hold the replica's pooled connections (Db:MaxPoolSize = 10) while they run, and every other request — catalog searches, which never call inventory — queues behind them for a connection. The storefront's client retries the slow answers, which adds more queries to the queue.",
            FixText = "A fallback must be cheaper than the call it replaces: answer \"unknown\" (the default) or a cached last-known value; leave estimates to a background job that runs once, not once per request.",
            Checks = (_, broken, fix) =>
            [
                // Judged on the mechanism, counted in connections and requests: the fallback's queries hold
                // the pool and the replica's other requests wait for it. How many searches the client
                // finally gives up on depends on how fast the database's CPU turns the pool over (35-98 %
                // on the busy shared machine, 9.3 % on the idle CI one): a signal, not a check.
                Verdict.AtLeast("database seconds per second while inventory failed", Phases.Broken, broken["database_seconds_per_second"], 1),
                Verdict.AtLeast("requests waiting for a pooled connection (mean)", Phases.Broken, broken["requests_waiting_for_a_connection"], 10),
                Verdict.AtLeast("catalog search median (ms), which never calls inventory", Phases.Broken, broken["search_p50_ms"], 200),
                Verdict.AtMost("database seconds per second while inventory failed", Phases.Fixed, fix["database_seconds_per_second"], 0.5),
                Verdict.AtMost("requests waiting for a pooled connection (mean)", Phases.Fixed, fix["requests_waiting_for_a_connection"], 1),
                Verdict.AtMost("catalog search median (ms), which never calls inventory", Phases.Fixed, fix["search_p50_ms"], 100),
                Verdict.AtMost("catalog searches failing, which never call inventory (ratio)", Phases.Fixed, 1 - fix["search_good_ratio"], 0.02),
                Verdict.AtMost("inventory calls per user operation while it failed", Phases.Fixed, fix["amplification"], 1.3),
                Verdict.AtMost("seconds for inventory to recover after its fault", Phases.Fixed, fix["inventory_recovery_s"], 3),
            ],
        },
        new("shared-pool", "one connection pool and one pipeline for stock reads and reservations: slow reservations take every connection and the fast reads fail",
            """{"InventoryClient:SharedConnectionPool": true}""",
            """{"InventoryClient:SharedConnectionPool": false}""",
            FaultLatencyMs: 800, FaultScope: "Reservations", [Availability, Order], ClientRetryPolicy.Immediate(4), ClientRetryPolicy.Immediate(4))
        {
            // Each pool holds four connections to inventory: enough for calls of 40 ms at this rate, not for 800 ms ones.
            ShopSettings = new Dictionary<string, string> { ["InventoryClient:MaxConnections"] = "4" },
            Symptom = "Only inventory's reservations are slow, yet product pages say \"availability unknown\": stock reads, which inventory answers as fast as ever, fail in the shop.",
            RootCause = "Stock reads and reservations share one HTTP connection pool (four connections, InventoryClient:MaxConnections) and one pipeline (InventoryClient:SharedConnectionPool = true; InventoryClient.Reads and .Reservations in src/Firedrill.Shop/Features/Inventory/InventoryClient.cs). Slow reservations, retried, hold every connection; reads wait for one past their timeout, and the shared breaker, counting the reads' failures with the reservations', opens for both.",
            FixText = "A pool and a pipeline per dependency (SharedConnectionPool = false: named clients inventory-reads and inventory-reservations, each with its own connections, bulkhead, breaker and retry budget), so a slow operation can only exhaust its own.",
            Checks = (_, broken, fix) =>
            [
                Verdict.AtLeast("availability answers without stock (ratio)", Phases.Broken, 1 - broken["availability_good_ratio"], 0.25),
                Verdict.AtMost("availability answers without stock (ratio)", Phases.Fixed, 1 - fix["availability_good_ratio"], 0.05),
                Verdict.AtMost("seconds for inventory to recover after its fault", Phases.Fixed, fix["inventory_recovery_s"], 3),
            ],
        },
    ];
}
