using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Dapper;
using Firedrill.Lab.Fleet;
using Npgsql;

namespace Firedrill.Lab.Scenarios.Incidents;

/// <summary>
/// SCENARIOS.md #10. Three replicas cache products in memory (HybridCache L1, in front of Redis)
/// with a long lifetime. Prices change under steady reads through the gateway; every read is
/// compared with the price PostgreSQL holds at that moment. Broken, a write leaves the other
/// replicas' memory alone — no broadcast, or a bulk import that bypasses the catalog — so they
/// keep answering the old price. Fixed, every write goes through the catalog, which invalidates
/// Redis and broadcasts the key so every replica evicts its copy; L1 lifetimes are bounded.
/// </summary>
internal sealed class StaleCache : Scenario<StaleCache.Cause>
{
    /// <summary>A variant: how prices are written, and the shipped setting that leaves other replicas stale.</summary>
    internal sealed record Cause(string Name, string Summary, bool BulkImport, string ShippedKey) : ScenarioVariant(Name, Summary);

    private const int Replicas = 3;
    private const int Readers = 4;
    private static readonly long[] HotProducts = [11, 12, 13, 14, 15, 16];
    private static readonly TimeSpan Settle = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan WriteEvery = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan ReadPause = TimeSpan.FromMilliseconds(20);
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(5);

    public override string Id => "stale-cache";

    public override string Title => "Cache helps, then serves stale data";

    protected override IReadOnlyList<Cause> TypedVariants { get; } =
    [
        new("no-broadcast", "a price update through one replica; the others are never told and serve their in-memory copy (10 min lifetime)",
            false, "Catalog:InvalidationBroadcast"),
        new("bypassed-invalidation", "a bulk price import written as plain SQL beside the catalog: no cache is invalidated, so even the broadcast never fires",
            true, "Catalog:PriceImportBypassesCache"),
    ];

    public override SignalQuery KeySignal => new(
        "L1 evictions received per second", """sum(rate(firedrill_cache_invalidations_total{direction="received"}[5s])) or vector(0)""",
        "Product keys the replicas evicted from memory because another replica wrote them: zero while prices change means nobody is told.");

    public override IReadOnlyList<SignalQuery> ChartSignals =>
    [
        new("products repriced per second", """sum(rate(firedrill_catalog_price_changes_total[5s])) or vector(0)""", "Price writes committed in PostgreSQL."),
    ];

    public override Runbook Runbook => new(
        "Customers see an old price on the product page after it was changed; refreshing sometimes shows the new one, sometimes the old.",
        [
            new("Cache hit ratio", """sum(rate(firedrill_cache_requests_total{result="hit"}[10s])) / sum(rate(firedrill_cache_requests_total[10s]))""",
                "Close to 1 while prices change: reads never reach PostgreSQL, so they can only be as fresh as the copy in memory."),
            new("Products repriced", ChartSignals[0].PromQl, "Prices really are changing in PostgreSQL."),
            new("Invalidations published", """sum(rate(firedrill_cache_invalidations_total{direction="published"}[10s])) or vector(0)""",
                "Zero while products are repriced: the write path tells no other replica (by service: sum by (service) (...))."),
            new("L1 evictions received, fewest of any replica", """min(sum by (service) (rate(firedrill_cache_invalidations_total{direction="received"}[10s]))) or vector(0)""",
                "Zero: some replica never hears of the writes and keeps its copy until it expires."),
        ],
        Chosen.BulkImport
            ? "The bulk price import (POST /products/prices) is written as plain SQL beside the catalog: PriceImporter.BulkPriceImportWithoutInvalidation "
              + "(src/Firedrill.Shop/Features/Catalog/PriceImporter.cs), selected by Catalog:PriceImportBypassesCache=true, updates PostgreSQL and returns. "
              + "Nothing is invalidated — not this replica's memory, not Redis — so even the pub/sub broadcast never fires, and every replica serves its copy "
              + "until it expires (Catalog:LocalCacheExpiration 10 min, Redis 10 min)."
            : "Catalog:InvalidationBroadcast=false (CatalogOptions.InvalidationBroadcast; ProductCache.InvalidateAsync in src/Firedrill.Shop/Features/Catalog/ProductCache.cs "
              + "skips CacheInvalidationBus.PublishAsync). HybridCache has no backplane: RemoveAsync clears the writing replica's memory and Redis, "
              + "but every other replica keeps its in-memory copy until it expires, and it was shipped with a 10-minute Catalog:LocalCacheExpiration.",
        (Chosen.BulkImport
            ? "Every write path through the one owner of product writes: PriceImporter.ImportThroughCatalogAsync writes, then calls ProductCache.InvalidateAsync "
              + "(Catalog:PriceImportBypassesCache=false). "
            : "Catalog:InvalidationBroadcast=true. ")
        + "After the commit, ProductCache.InvalidateAsync removes the keys here and in Redis and publishes them on Redis pub/sub (CacheInvalidationBus), "
        + "and every replica evicts its L1 copy; Catalog:LocalCacheExpiration bounded (30 s) so a lost message costs at most that.");

    public override FleetOptions Fleet(FleetOptions defaults) => defaults with
    {
        Replicas = Replicas,
        ShopSettings = new Dictionary<string, string>(defaults.ShopSettings)
        {
            // As shipped in this incident: long lifetimes, and the variant's defect on.
            ["Catalog:LocalCacheExpiration"] = "00:10:00",
            ["Catalog:CacheExpiration"] = "00:10:00",
            [Chosen.ShippedKey] = Chosen.BulkImport ? "true" : "false",
            ["Jobs:InventorySyncEnabled"] = "false",
        },
    };

    public override Task ApplyAsync(ScenarioContext context, string phase, CancellationToken cancellationToken) =>
        phase == Phases.Fixed
            ? context.Fleet.ConfigureShopsAsync("""
                {"Catalog:InvalidationBroadcast": true, "Catalog:PriceImportBypassesCache": false, "Catalog:LocalCacheExpiration": "00:00:30"}
                """, cancellationToken)
            : Task.CompletedTask;

    public override async Task<PhaseRun> DriveAsync(ScenarioContext context, string phase, CancellationToken cancellationToken)
    {
        var duration = phase == Phases.Baseline
            ? context.Duration(TimeSpan.FromSeconds(8), TimeSpan.FromSeconds(3))
            : context.Duration(TimeSpan.FromSeconds(20), TimeSpan.FromSeconds(6));
        var ledger = new PriceLedger(await PricesAsync(context.Fleet.DatabaseConnection, cancellationToken));
        using var client = context.GatewayClient(RequestTimeout);
        var recorder = new AttemptRecorder("read", "write");
        var stopAt = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        var writes = phase == Phases.Baseline ? Task.FromResult(Task.CompletedTask) : WriteAsync(context, phase, client, recorder, ledger, stopAt, cancellationToken);
        await Task.WhenAll(Enumerable.Range(0, Readers).Select(reader => ReadAsync(client, recorder, ledger, reader, stopAt, cancellationToken)));
        await await writes;

        var stats = ledger.Judge(Settle);
        var written = ledger.LastWritten();
        var database = await PricesAsync(context.Fleet.DatabaseConnection, cancellationToken);
        var load = recorder.ToResult();
        var window = Math.Max(2, (int)Math.Ceiling(load.Elapsed.TotalSeconds));
        var signals = new Dictionary<string, double>
        {
            ["stale_after_1s_fraction"] = StaleReadStats.Fraction(stats.StaleAfterSettle, stats.AfterSettle),
            ["reads_after_1s"] = stats.AfterSettle,
            ["stale_reads_after_1s"] = stats.StaleAfterSettle,
            ["stale_within_1s_fraction"] = StaleReadStats.Fraction(stats.StaleWithinSettle, stats.WithinSettle),
            ["stale_fraction_all_reads"] = StaleReadStats.Fraction(stats.Stale, stats.Compared),
            ["reads_compared"] = stats.Compared,
            ["price_writes"] = load.Endpoints["write"].Requests,
            ["lab_prices_match_postgres"] = written.Count == 0 ? 1 : Math.Round((double)written.Count(pair => database[pair.Key] == pair.Value) / written.Count, 4),
            ["cache_hit_ratio"] = Math.Round(await context.Prometheus.QueryScalarAsync(
                $$"""sum(increase(firedrill_cache_requests_total{result="hit"}[{{window}}s])) / sum(increase(firedrill_cache_requests_total[{{window}}s]))""",
                null, cancellationToken) ?? 0, 4),
            ["invalidations_published"] = await context.Prometheus.QueryScalarAsync(
                $$"""sum(increase(firedrill_cache_invalidations_total{direction="published"}[{{window}}s])) or vector(0)""", null, cancellationToken) ?? 0,
            ["l1_evictions_received"] = await context.Prometheus.QueryScalarAsync(
                $$"""sum(increase(firedrill_cache_invalidations_total{direction="received"}[{{window}}s])) or vector(0)""", null, cancellationToken) ?? 0,
        };
        return new PhaseRun(load, signals);
    }

    public override IReadOnlyList<CheckResult> Check(IReadOnlyDictionary<string, PhaseResult> phases)
    {
        var baseline = phases[Phases.Baseline].Signals;
        var broken = phases[Phases.Broken].Signals;
        var fix = phases[Phases.Fixed].Signals;
        return
        [
            Verdict.EqualTo("stale reads with no writes", Phases.Baseline, baseline["stale_fraction_all_reads"], 0),
            // (N-1)/N of the reads are stale when only the writer's replica forgets (2/3 here), all of
            // them when nobody does: 25% keeps a 2x margin under the smaller of the two.
            Verdict.AtLeast("stale reads >= 1 s after a write (fraction)", Phases.Broken, broken["stale_after_1s_fraction"], 0.25),
            Verdict.EqualTo("lab's prices equal PostgreSQL's (ratio)", Phases.Broken, broken["lab_prices_match_postgres"], 1),
            Verdict.EqualTo("stale reads >= 1 s after a write", Phases.Fixed, fix["stale_reads_after_1s"], 0),
            Verdict.Above("reads >= 1 s after a write (judged)", Phases.Fixed, fix["reads_after_1s"], 0),
            Verdict.Above("L1 evictions received", Phases.Fixed, fix["l1_evictions_received"], 0),
        ];
    }

    private static async Task ReadAsync(HttpClient client, AttemptRecorder recorder, PriceLedger ledger, int reader, long stopAt, CancellationToken cancellationToken)
    {
        for (var n = reader; Stopwatch.GetTimestamp() < stopAt; n += Readers)
        {
            var product = HotProducts[n % HotProducts.Length];
            var started = Stopwatch.GetTimestamp();
            try
            {
                using var response = await client.GetAsync(string.Create(CultureInfo.InvariantCulture, $"/api/products/{product}"), cancellationToken);
                var ended = Stopwatch.GetTimestamp();
                recorder.Record("read", started, ((int)response.StatusCode).ToString(CultureInfo.InvariantCulture), error: !response.IsSuccessStatusCode);
                if (response.IsSuccessStatusCode)
                {
                    using var json = await JsonDocument.ParseAsync(await response.Content.ReadAsStreamAsync(cancellationToken), cancellationToken: cancellationToken);
                    ledger.ReadAnswered(product, started, ended, json.RootElement.GetProperty("price").GetDecimal());
                }
            }
            catch (HttpRequestException ex)
            {
                recorder.Record("read", started, ex.GetType().Name, error: true);
            }

            await Task.Delay(ReadPause, cancellationToken);
        }
    }

    /// <summary>
    /// One price change a second, round-robin over the hot products: through the price API, or as a
    /// bulk import of two products at a time. A second after the third write, the evidence: the
    /// product's price in PostgreSQL and in every replica at the same instant.
    /// </summary>
    private async Task<Task> WriteAsync(ScenarioContext context, string phase, HttpClient client, AttemptRecorder recorder, PriceLedger ledger,
        long stopAt, CancellationToken cancellationToken)
    {
        var evidence = Task.CompletedTask;
        var begun = Stopwatch.GetTimestamp();
        var batch = Chosen.BulkImport ? 2 : 1;
        for (var tick = 0; ; tick++)
        {
            var due = begun + (long)((0.5 + tick) * WriteEvery.TotalSeconds * Stopwatch.Frequency);
            if (due >= stopAt - (long)(Settle.TotalSeconds * Stopwatch.Frequency))
            {
                return evidence;
            }

            await Task.Delay(Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), Math.Max(due, Stopwatch.GetTimestamp())), cancellationToken);
            var products = Enumerable.Range(tick * batch, batch).Select(i => HotProducts[i % HotProducts.Length]).ToArray();
            // A price no write used before: 100.01, 100.02, ... per phase and product.
            var prices = products.Select(product => 100m + (phase == Phases.Fixed ? 500m : 0m) + product + (tick + 1) * 0.01m).ToArray();
            using var request = Chosen.BulkImport
                ? new HttpRequestMessage(HttpMethod.Post, "/api/products/prices")
                {
                    Content = JsonContent.Create(new { items = products.Select((product, i) => new { productId = product, price = prices[i] }) }),
                }
                : new HttpRequestMessage(HttpMethod.Put, string.Create(CultureInfo.InvariantCulture, $"/api/products/{products[0]}/price"))
                {
                    Content = new StringContent(string.Create(CultureInfo.InvariantCulture, $$"""{"price": {{prices[0]}}}"""), Encoding.UTF8, "application/json"),
                };
            var sent = Stopwatch.GetTimestamp();
            try
            {
                using var response = await client.SendAsync(request, cancellationToken);
                recorder.Record("write", sent, ((int)response.StatusCode).ToString(CultureInfo.InvariantCulture), error: !response.IsSuccessStatusCode);
                if (!response.IsSuccessStatusCode)
                {
                    continue;
                }
            }
            catch (HttpRequestException ex)
            {
                recorder.Record("write", sent, ex.GetType().Name, error: true);
                continue;
            }

            var acknowledged = Stopwatch.GetTimestamp();

            for (var i = 0; i < products.Length; i++)
            {
                ledger.Written(products[i], sent, acknowledged, prices[i]);
            }

            if (tick == 2)
            {
                evidence = context.CaptureDuringAsync(Settle, token => CaptureAsync(context, phase, products[0], token), cancellationToken);
            }
        }
    }

    /// <summary>The product's price in PostgreSQL and the price each replica answers, one right after the other.</summary>
    private static async Task CaptureAsync(ScenarioContext context, string phase, long product, CancellationToken cancellationToken)
    {
        var replicas = string.Join(' ', context.Fleet.Shops.Select(shop => $"{shop.Name}={shop.Address}"));
        var command = $"{context.Evidence.PsqlCommand} -tA -c \"SELECT 'postgres', price FROM products WHERE id = {product}\"; "
            + $"for r in {replicas}; do echo \"${{r%%=*}}|$(curl -s \"${{r#*=}}products/{product}\" | sed -E 's/.*\"price\":([0-9.]+).*/\\1/')\"; done";
        await context.Evidence.ShellAsync($"Product {product}: its price in PostgreSQL and on each replica, 1 s after the write", phase, command,
            context.Evidence.PsqlEnvironment, cancellationToken: cancellationToken);
        await context.Evidence.ShellAsync("Cache look-ups and invalidations, from each replica's /metrics", phase,
            $"for r in {replicas}; do echo \"== ${{r%%=*}}\"; curl -s \"${{r#*=}}metrics\" | grep -E '^firedrill_cache_(requests|invalidations)_total'; done",
            cancellationToken: cancellationToken);
    }

    private static async Task<Dictionary<long, decimal>> PricesAsync(string database, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(database);
        await connection.OpenAsync(cancellationToken);
        return (await connection.QueryAsync<(long Id, decimal Price)>(new CommandDefinition(
            "SELECT id, price FROM products WHERE id = ANY(@ids)", new { ids = HotProducts }, cancellationToken: cancellationToken)))
            .ToDictionary(row => row.Id, row => row.Price);
    }
}
