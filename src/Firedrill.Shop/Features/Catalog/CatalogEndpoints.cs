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
        group.MapGet("/{id}/availability", GetAvailabilityAsync);
        // No Accepts metadata: the handler answers a wrong content type itself, saying what to send.
        group.MapPost("/prices/import", PriceImportEndpoint.ImportAsync)
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType);
        return group;
    }

    private static async Task<Results<Ok<Product>, ProblemHttpResult>> GetAsync(
        long id, ProductCache cache, ProductStore store, CancellationToken cancellationToken)
    {
        var product = id > 0 ? await cache.GetOrLoadAsync(id, store.FindAsync, cancellationToken) : null;
        return product is null ? Problems.NotFound($"Product {id} does not exist.") : TypedResults.Ok(product);
    }

    /// <summary>The one catalog endpoint that calls inventory; it may answer "unknown" rather than fail.</summary>
    private static async Task<Results<Ok<Availability>, ProblemHttpResult>> GetAvailabilityAsync(
        long id, ProductCache cache, ProductStore store, InventoryClient inventory, CancellationToken cancellationToken)
    {
        var product = id > 0 ? await cache.GetOrLoadAsync(id, store.FindAsync, cancellationToken) : null;
        return product is null
            ? Problems.NotFound($"Product {id} does not exist.")
            : TypedResults.Ok(await inventory.GetAvailabilityAsync(product.Id, product.Sku, cancellationToken));
    }

    private static async Task<Results<Ok<ProductPage>, ValidationProblem>> SearchAsync(
        string? query, int? page, int? pageSize, ProductStore store, IOptionsMonitor<CatalogOptions> options, CancellationToken cancellationToken)
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
        return TypedResults.Ok(await store.SearchAsync(text, page ?? 1, pageSize ?? Math.Min(20, maxPageSize), cancellationToken));
    }

    private static async Task<Results<Ok<Product>, ValidationProblem, ProblemHttpResult>> UpdatePriceAsync(
        long id, PriceUpdate body, ProductStore store, ProductCache cache, CancellationToken cancellationToken)
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

        // After the commit, so no replica can re-cache the old price from the database.
        await cache.InvalidateAsync([id], cancellationToken);
        return TypedResults.Ok(product);
    }
}

public static class CatalogServices
{
    public static IHostApplicationBuilder AddCatalog(this IHostApplicationBuilder builder)
    {
        builder.Services.AddRuntimeOptions<CatalogOptions, CatalogOptionsValidator>(CatalogOptions.SectionName);
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
        builder.Services.AddSingleton<CacheInvalidationBus>();
        builder.Services.AddHostedService(services => services.GetRequiredService<CacheInvalidationBus>());
        return builder;
    }
}
