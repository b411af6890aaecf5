using Dapper;
using Firedrill.Bench.Harness;
using Npgsql;

namespace Firedrill.Bench.Benchmarks;

/// <summary>
/// POST /payments through one replica under wrk, against pgbench running the SQL the endpoint
/// runs, statement for statement, on the same database at the same concurrency.
/// </summary>
internal sealed class PaymentsVsPostgres : IBenchmark
{
    private const int Connections = 16;
    private const int Orders = 1000;

    // The endpoint's statements, in its order (PaymentsEndpoints, IdempotencyStore.ClaimAsync,
    // PaymentService.InsertAsync, IdempotencyStore.CompleteAsync, Outbox): the order look-up, the
    // key's claim, then one transaction with the payment, the key's response and the outbox row.
    private const string Script = """
        \set order random(1, :orders)
        \set k random(1, 1000000000000000)
        SELECT EXISTS (SELECT 1 FROM orders WHERE id = :order);
        INSERT INTO idempotency_keys (key, fingerprint, locked_at) VALUES ('pgb-' || :client_id || '-' || :k, '\x5d41402abc4b2a76b9719d911017c5925d41402abc4b2a76b9719d911017c592'::bytea, now()) ON CONFLICT (key) DO NOTHING RETURNING true;
        BEGIN;
        INSERT INTO payments (order_id, amount, currency, status, idempotency_key, created_at) VALUES (:order, 10.00, 'EUR', 'accepted', 'pgb-' || :client_id || '-' || :k, now()) RETURNING id AS payment_id, order_id AS o, amount AS a, trim(currency) AS c, status AS s \gset
        UPDATE idempotency_keys SET completed_at = now(), response_status = 201, response_body = '{"id":' || :payment_id || ',"orderId":' || :order || ',"amount":10.00,"currency":"EUR","status":"accepted"}', response_location = '/payments/' || :payment_id WHERE key = 'pgb-' || :client_id || '-' || :k;
        INSERT INTO outbox (topic, message_key, event_id, payload, traceparent, created_at) VALUES ('payments', :order::text, 'payment-accepted-' || :payment_id, '{"eventId":"payment-accepted-' || :payment_id || '","paymentId":' || :payment_id || ',"orderId":' || :order || ',"amount":10.00,"currency":"EUR","occurredAt":"2026-11-23T18:00:00.0000000Z"}', '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', now());
        COMMIT;
        """;

    public string Name => "payments";

    public string Title => "Payments vs PostgreSQL";

    public string Method =>
        $"`POST /payments` with a unique `Idempotency-Key` per request, straight at one shop replica, driven by `wrk -t1 -c{Connections}`; "
        + $"against `pgbench -c {Connections} -j 1` running, statement for statement, the SQL the endpoint runs (the order look-up, the key's claim, "
        + "then one transaction with the payment, the key's stored response and the outbox row) on the same database, once with the simple "
        + "protocol and once with `-M prepared`. The shop prepares its statements automatically (Npgsql `Max Auto Prepare`). The outbox relay, "
        + "the ledger consumer and the inventory-sync job are off, so the database does only the endpoint's work on both sides.";

    public async Task<BenchmarkResult> RunAsync(BenchContext context, CancellationToken cancellationToken)
    {
        var result = new BenchmarkResult(Name, Title);
        await using var fleet = await context.StartFleetAsync(Name, 1, cancellationToken, shop: new Dictionary<string, string>
        {
            ["Kafka:RelayEnabled"] = "false",
            ["Kafka:ConsumerEnabled"] = "false",
            ["Jobs:InventorySyncEnabled"] = "false",
        });
        var shop = fleet.Shops[0];
        await using (var connection = new NpgsqlConnection(fleet.DatabaseConnection))
        {
            await connection.ExecuteAsync(
                "INSERT INTO orders (customer_id, status, total, created_at) SELECT 1 + g % 100, 'placed', 10.00, now() FROM generate_series(1, @Orders) g",
                new { Orders });
        }

        var cpu = new CpuMeter(new Dictionary<string, Func<IEnumerable<int>>>
        {
            ["shop"] = () => [shop.Pid],
            ["postgres"] = CpuMeter.Postgres,
            ["wrk"] = () => CpuMeter.ByName("wrk"),
            ["pgbench"] = () => CpuMeter.ByName("pgbench"),
        });
        var variables = new Dictionary<string, string> { ["orders"] = Orders.ToString(System.Globalization.CultureInfo.InvariantCulture) };
        BenchContext.Log("  warm-up");
        await Wrk.RunAsync(shop.Address, Connections, BenchContext.WarmUp, Wrk.PaymentsScript(Orders, "warm"), null, cancellationToken);
        await PgBench.RunAsync(fleet.DatabaseConnection, Script, Connections, TimeSpan.FromSeconds(4), prepared: true, null, cancellationToken, variables);

        var shopRps = result.Measure("shop: payments/s (wrk)", "req/s");
        var simpleTps = result.Measure("pgbench: payments/s (simple protocol)", "tx/s");
        var preparedTps = result.Measure("pgbench: payments/s (-M prepared)", "tx/s");
        var shopP99 = result.Measure("shop: p99", "ms");
        var simpleP99 = result.Measure("pgbench: p99 (simple)", "ms");
        var preparedP99 = result.Measure("pgbench: p99 (prepared)", "ms");
        var shopCpu = result.Measure("shop CPU per payment", "µs");
        var pgShopCpu = result.Measure("PostgreSQL CPU per payment, shop side", "µs");
        var pgSimpleCpu = result.Measure("PostgreSQL CPU per payment, pgbench simple", "µs");
        var pgPreparedCpu = result.Measure("PostgreSQL CPU per payment, pgbench prepared", "µs");
        CpuSplit? lastShop = null, lastPrepared = null;
        for (var run = 1; run <= context.Runs; run++)
        {
            var runId = $"r{run}-{Guid.NewGuid():N}"[..12];
            var wrk = await Wrk.RunAsync(shop.Address, Connections, context.Duration, Wrk.PaymentsScript(Orders, runId), cpu, cancellationToken);
            if (wrk.Non2xx + wrk.SocketErrors > 0)
            {
                throw new InvalidOperationException($"payments answered {wrk.Non2xx} errors and {wrk.SocketErrors} socket errors; see {fleet.Logs}");
            }

            // Every answer wrk counted must be a payment in the database (wrk stops without waiting for the last answers, so ≥).
            await using (var connection = new NpgsqlConnection(fleet.DatabaseConnection))
            {
                var stored = await connection.ExecuteScalarAsync<long>("SELECT count(*) FROM payments WHERE idempotency_key LIKE @prefix", new { prefix = $"wrk-{runId}-%" });
                if (stored < wrk.Requests)
                {
                    throw new InvalidOperationException($"wrk counted {wrk.Requests} payments but the database holds {stored}");
                }
            }

            var simple = await PgBench.RunAsync(fleet.DatabaseConnection, Script, Connections, context.Duration, prepared: false, cpu, cancellationToken, variables);
            var prepared = await PgBench.RunAsync(fleet.DatabaseConnection, Script, Connections, context.Duration, prepared: true, cpu, cancellationToken, variables);
            if (simple.Failed + prepared.Failed > 0)
            {
                throw new InvalidOperationException($"pgbench had {simple.Failed + prepared.Failed} failed transactions");
            }

            shopRps.Add(wrk.Rps);
            simpleTps.Add(simple.Tps);
            preparedTps.Add(prepared.Tps);
            shopP99.Add(wrk.P99Ms);
            simpleP99.Add(simple.P99Ms);
            preparedP99.Add(prepared.P99Ms);
            shopCpu.Add(wrk.Cpu!.MicrosecondsPer("shop", wrk.Rps));
            pgShopCpu.Add(wrk.Cpu.MicrosecondsPer("postgres", wrk.Rps));
            pgSimpleCpu.Add(simple.Cpu!.MicrosecondsPer("postgres", simple.Tps));
            pgPreparedCpu.Add(prepared.Cpu!.MicrosecondsPer("postgres", prepared.Tps));
            (lastShop, lastPrepared) = (wrk.Cpu, prepared.Cpu);
            BenchContext.Log($"  run {run}: shop {wrk.Rps:0} req/s (p99 {wrk.P99Ms:0.0} ms), pgbench {simple.Tps:0} tx/s simple, {prepared.Tps:0} prepared");
        }

        result.AddRatio("payments/s ÷ pgbench TPS (simple)", RatioSeries.Of(shopRps, simpleTps), low: 0.80);
        result.AddRatio("payments/s ÷ pgbench TPS (prepared)", RatioSeries.Of(shopRps, preparedTps));
        result.Notes.Add($"CPU during the last run, shop side: {lastShop}. pgbench side (prepared): {lastPrepared}.");
        return result;
    }
}
