using Firedrill.ServiceDefaults.Options;
using Firedrill.Shop.Features.Inventory;
using Firedrill.ServiceDefaults.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace Firedrill.Shop.Features.Catalog;

public static class CatalogEndpoints
{
    public const decimal MaxPrice = 1_000_000m;
    public const int MaxQueryLength = 100;
    public const int MaxPage = 100_000;

    public static RouteGroupBuilder MapCatalog(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/products").WithTags("Catalog");
        group.MapGet("/{id}", GetAsync).WithName("GetProduct");
        group.MapGet("/", SearchAsync);
        group.MapPut("/{id}/price", UpdatePriceAsync);
        group.MapPost("/prices", ImportPricesAsync);
        group.MapGet("/{id}/availability", GetAvailabilityAsync);
        return group;
    }

    private static async Task<Results<Ok<Product>, ProblemHttpResult>> GetAsync(
        long id, ProductCache cache, ProductStore store, StockBadges badges, CancellationToken cancellationToken)
    {
        var product = id > 0 ? await cache.GetOrLoadAsync(id, store.FindAsync, cancellationToken) : null;
        if (product is null)
        {
            return Problems.NotFound($"Product {id} does not exist.");
        }

        badges.RequestRefresh(product.Id, product.Sku);
        return TypedResults.Ok(product);
    }

    /// <summary>The one catalog endpoint that calls inventory; it may answer "unknown" rather than fail.</summary>
    private static async Task<Results<Ok<Availability>, ProblemHttpResult>> GetAvailabilityAsync(
        long id, ProductCache cache, ProductStore store, InventoryClient inventory, IOptionsMonitor<AvailabilityOptions> options,
        IOptionsMonitor<CatalogOptions> catalog, IServiceProvider services, CancellationToken cancellationToken)
    {
        if (catalog.CurrentValue.LeakyAvailabilityLookup)
        {
            var leaky = id > 0 ? await services.GetRequiredService<LeakyAvailabilityLookup>().GetAsync(id, cancellationToken) : null;
            return leaky is null ? Problems.NotFound($"Product {id} does not exist.") : TypedResults.Ok(leaky);
        }

        var product = id > 0 ? await cache.GetOrLoadAsync(id, store.FindAsync, cancellationToken) : null;
        return product is null
            ? Problems.NotFound($"Product {id} does not exist.")
            : TypedResults.Ok(await AvailabilityLookup.LookUpAsync(product, inventory, options, cancellationToken));
    }

    private static async Task<Results<Ok<ProductPage>, ValidationProblem>> SearchAsync(
        string? query, int? page, int? pageSize, HttpRequest request, ProductStore store, SearchCache cache,
        IOptionsMonitor<CatalogOptions> options, IOptionsMonitor<SearchOptions> search, CancellationToken cancellationToken)
    {
        var maxPageSize = options.CurrentValue.MaxPageSize;
        var validation = new Validation()
            .Require(query is null || query.Length <= MaxQueryLength, "query", $"must be at most {MaxQueryLength} characters")
            .Require(page is null or >= 1 and <= MaxPage, "page", $"must be between 1 and {MaxPage}")
            .Require(pageSize is null || (pageSize >= 1 && pageSize <= maxPageSize), "pageSize", $"must be between 1 and {maxPageSize}");
        if (!validation.IsValid)
        {
            return validation.ToProblem();
        }

        var text = string.IsNullOrWhiteSpace(query) ? null : query.Trim();
        var found = await cache.GetOrSearchAsync(request.QueryString.Value ?? "",
            token => store.SearchAsync(text, page ?? 1, pageSize ?? Math.Min(20, maxPageSize), token), cancellationToken);
        using var view = search.CurrentValue.LeakOptionsSubscription
            ? SearchResultsView.WatchWithoutUnsubscribing(found, options)
            : SearchResultsView.Watch(found, options);
        return TypedResults.Ok(view.Render());
    }

    private static async Task<Results<Ok<Product>, ValidationProblem, ProblemHttpResult>> UpdatePriceAsync(
        long id, PriceUpdate body, ProductStore store, ProductCache cache, Observability.ShopMetrics metrics, CancellationToken cancellationToken)
    {
        var validation = new Validation().Money(body.Price, "price", MaxPrice);
        if (!validation.IsValid)
        {
            return validation.ToProblem();
        }

        var product = id > 0 ? await store.UpdatePriceAsync(id, body.Price!.Value, cancellationToken) : null;
        if (product is null)
        {
            return Problems.NotFound($"Product {id} does not exist.");
        }

        metrics.PriceChanges(1, "single");
        // After the commit, so no replica can re-cache the old price from the database.
        await cache.InvalidateAsync([id], cancellationToken);
        return TypedResults.Ok(product);
    }

    private static async Task<Results<Ok<PriceImportResult>, ValidationProblem>> ImportPricesAsync(
        PriceImport body, PriceImporter importer, CancellationToken cancellationToken)
    {
        var items = body.Items ?? [];
        var validation = new Validation()
            .Require(items.Count is > 0 and <= PriceImporter.MaxItems, "items", $"must hold between 1 and {PriceImporter.MaxItems} prices");
        for (var i = 0; i < items.Count && validation.IsValid; i++)
        {
            validation
                .Require(items[i] is { ProductId: > 0 }, $"items[{i}].productId", "is required and must be greater than 0")
                .Money(items[i]?.Price, $"items[{i}].price", MaxPrice);
        }

        if (!validation.IsValid)
        {
            return validation.ToProblem();
        }

        var ids = items.Select(item => item!.ProductId!.Value).ToArray();
        if (ids.Distinct().Count() != ids.Length)
        {
            return validation.Require(false, "items", "must name each product once").ToProblem();
        }

        var updated = await importer.ImportAsync(ids, items.Select(item => item!.Price!.Value).ToArray(), cancellationToken);
        return TypedResults.Ok(new PriceImportResult(updated.Order().ToList(), ids.Except(updated).Order().ToList()));
    }
}

public static class CatalogServices
{
    public static IHostApplicationBuilder AddCatalog(this IHostApplicationBuilder builder)
    {
        builder.Services.AddRuntimeOptions<CatalogOptions, CatalogOptionsValidator>(CatalogOptions.SectionName);
        builder.Services.AddRuntimeOptions<SearchOptions, SearchOptionsValidator>(SearchOptions.SectionName);
        builder.Services.AddRuntimeOptions<AvailabilityOptions, AvailabilityOptionsValidator>(AvailabilityOptions.SectionName);
        // Redis is HybridCache's L2, over the shop's one multiplexer (shared with pub/sub and health).
        builder.Services.AddStackExchangeRedisCache(_ => { });
        builder.Services.AddOptions<Microsoft.Extensions.Caching.StackExchangeRedis.RedisCacheOptions>()
            .Configure<StackExchange.Redis.IConnectionMultiplexer, Data.ShopDatabase>((options, redis, database) =>
            {
                options.ConnectionMultiplexerFactory = () => Task.FromResult(redis);
                options.InstanceName = $"firedrill:{database.DatabaseName}:";
            });
        builder.Services.AddHybridCache();
        builder.Services.AddSingleton<ProductStore>();
        builder.Services.AddSingleton<ProductCache>();
        builder.Services.AddSingleton<PriceImporter>();
        builder.Services.AddTransient<LeakyAvailabilityLookup>();
        builder.Services.AddSingleton<CacheInvalidationBus>();
        builder.Services.AddSingleton<SearchCache>();
        builder.Services.AddSingleton<StockBadges>();
        builder.Services.AddHostedService(services => services.GetRequiredService<StockBadges>());
        builder.Services.AddHostedService(services => services.GetRequiredService<CacheInvalidationBus>());
        return builder;
    }
}
