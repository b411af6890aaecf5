namespace Firedrill.Lab.Scenarios.Incidents;

/// <summary>What the user reads: the key signal, the chart's series and the runbook of each variant.</summary>
internal sealed partial class AutoscalingNoRelief
{
    public override SignalQuery KeySignal => new("shop replicas", """count(up{job="shop"} == 1)""", "Replicas the autoscaler has running.");

    public override IReadOnlyList<SignalQuery> ChartSignals => Cold
        ?
        [
            new("user requests served cold by the added replicas", ServedCold, "Requests that new replicas answered before their warm-up had finished."),
        ]
        :
        [
            new("row locks waited on (max over 10 s)", $$"""max_over_time((sum(pg_locks_count{datname=~"{{_database}}", mode=~"accessexclusivelock|sharelock"}) or vector(0))[10s:1s])""",
                "Tuple locks (AccessExclusive) and transaction-id waits (Share) of the run's database, postgres_exporter: the queue on the hot row."),
        ];

    /// <summary>
    /// Counted by each replica (WarmUpService): users' requests it answered before it was warm; the first
    /// replica is warmed by the lab's warm-up phase. The total, not a rate: a replica's cold second is
    /// often over before Prometheus has scraped it twice, and a rate of one sample is nothing.
    /// </summary>
    private const string ServedCold =
        """sum(firedrill_warmup_requests_served_cold_total{job="shop", service!="shop-1"}) or vector(0)""";

    public override Runbook Runbook => Cold ? ColdRunbook : HotRowRunbook;

    private static Runbook ColdRunbook => new(
        "Every time the autoscaler adds replicas, their first users are answered by replicas still warming up: slower first answers, while the warm-up competes for the same cores.",
        [
            new("Catalogue p99 (s)", """histogram_quantile(0.99, sum by (le) (rate(http_server_request_duration_seconds_bucket{job="shop", http_route=~"/products/?"}[5s])))""",
                "Up right when replicas are added, instead of down: the new capacity starts cold (here by tens of ms, the machine's noise)."),
            new("Shop replicas", """count(up{job="shop"} == 1)""", "The autoscaler did its job: more replicas."),
            new("User requests served cold by the added replicas", ServedCold, "Not zero: new replicas answered users before their warm-up had run."),
            new("Replicas warmed up", """sum(firedrill_warmup_complete{job="shop"}) or vector(0)""", "Fewer than the replicas in rotation while they warm."),
        ],
        "A new replica's readiness says ready before its warm-up has run (WarmUp:ReadyBeforeWarmUp=true: WarmUpHealthCheck.ReadyBeforeWarmUp in "
        + "src/Firedrill.Shop/WarmUp/WarmUpHealthCheck.cs), so the fleet puts it behind the gateway with an empty connection pool, empty caches and code paths "
        + "not yet run, and its share of users pays for all of that at once.",
        "Readiness waits for the warm-up (WarmUp:ReadyBeforeWarmUp=false: WarmUpHealthCheck.Check; WarmUpService opens the pool's connections and sends the "
        + "replica its hot read paths first), so a replica joins rotation warm; scale on latency rather than CPU.");

    private Runbook HotRowRunbook => new(
        "Orders get slower under load; the autoscaler adds replicas and they keep getting slower.",
        [
            new("Order p99 (s)", """histogram_quantile(0.99, sum by (le) (rate(http_server_request_duration_seconds_bucket{job="shop", http_request_method="POST", http_route=~"/orders/?"}[10s])))""",
                "Rising while replicas are added: the bottleneck is not in the replicas."),
            new("Shop replicas", KeySignal.PromQl, "The autoscaler did its job: more replicas."),
            new("CPU per replica (cores)", """avg(sum by (service) (rate(dotnet_process_cpu_time_seconds_total{job="shop"}[5s])))""",
                "Modest per replica: requests wait, they don't compute."),
            new("Row locks waited on", ChartSignals[0].PromQl, "Many, all on the same row: the orders queue in PostgreSQL."),
            new("Active sessions of the run's database", """sum(pg_run_activity_count{state="active"})""", "Every replica's pool adds sessions to the same queue."),
        ],
        "Each order locks its products' rows (SELECT … FOR UPDATE) and keeps the lock while it calls the inventory service "
        + "(Orders:StockLockedAcrossInventoryCall=true: OrderService.PlaceHoldingStockLockAcrossInventoryCallAsync in src/Firedrill.Shop/Features/Orders/OrderService.cs, "
        + "OrderStore.LockProductsAsync). Orders for one popular product therefore go one network round trip at a time, whatever the number of replicas; "
        + "the HPA scales on CPU, which is not the bottleneck, and each new replica only adds sessions to the lock queue.",
        "Remove the contention: reserve at the inventory service first, then one short transaction (Orders:StockLockedAcrossInventoryCall=false: "
        + "OrderService.PlaceAsync's correct path), so no row is locked across a network call; scale on latency or queue depth rather than CPU.");
}
