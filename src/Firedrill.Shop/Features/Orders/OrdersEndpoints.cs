using Firedrill.ServiceDefaults.Options;
using Firedrill.Shop.Features.Catalog;
using Firedrill.ServiceDefaults.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace Firedrill.Shop.Features.Orders;

public static class OrdersEndpoints
{
    public const int MaxLines = 50;
    public const int MaxQuantity = 1_000;
    public const int DefaultPageSize = 20;
    public const int MaxPageSize = 100;
    public const int MaxPage = 100_000;

    public static IEndpointRouteBuilder MapOrders(this IEndpointRouteBuilder app)
    {
        var orders = app.MapGroup("/orders").WithTags("Orders");
        orders.MapPost("/", PlaceAsync);
        orders.MapGet("/{id}", GetAsync).WithName("GetOrder");
        app.MapGet("/customers/{id}/orders", ListByCustomerAsync).WithTags("Orders");
        return app;
    }

    internal static IHostApplicationBuilder AddOrders(this IHostApplicationBuilder builder)
    {
        builder.Services.AddRuntimeOptions<OrdersOptions, OrdersOptionsValidator>(OrdersOptions.SectionName);
        builder.Services.AddSingleton<OrderStore>();
        builder.Services.AddScoped<OrderService>();
        return builder;
    }

    private static async Task<Results<Created<Order>, ValidationProblem, ProblemHttpResult>> PlaceAsync(
        HttpRequest request, CreateOrderRequest body, OrderService orders, ProductCache cache, CancellationToken cancellationToken)
    {
        var validation = Validate(body);
        if (!validation.IsValid)
        {
            return validation.ToProblem();
        }

        var lines = body.Lines!.Select(line => (line.ProductId!.Value, line.Quantity!.Value)).ToList();
        var outcome = await orders.PlaceAsync(body.CustomerId!.Value, lines, cancellationToken);
        switch (outcome)
        {
            case PlaceOrderOutcome.Placed placed:
                // Stock changed: cached products would show the old stock.
                await cache.InvalidateAsync(lines.Select(line => line.Item1).ToList(), cancellationToken);
                return TypedResults.Created($"{request.PathBase}/orders/{placed.Order.Id}", placed.Order);
            case PlaceOrderOutcome.UnknownCustomer unknown:
                return Problems.NotFound($"Customer {unknown.CustomerId} does not exist.");
            case PlaceOrderOutcome.UnknownProduct unknown:
                return Problems.NotFound($"Product {unknown.ProductId} does not exist.");
            case PlaceOrderOutcome.InsufficientStock short_:
                return Problems.Conflict("Insufficient stock",
                    $"Product {short_.ProductId} has {short_.Available} in stock; {short_.Requested} were requested.");
            case PlaceOrderOutcome.NotReserved notReserved:
                return Problems.Conflict("Stock not reserved", notReserved.Reason);
            default:
                throw new InvalidOperationException($"Unhandled outcome {outcome}.");
        }
    }

    private static Validation Validate(CreateOrderRequest body)
    {
        var validation = new Validation()
            .Require(body.CustomerId is not null, "customerId", "is required")
            .Require(body.CustomerId is null or > 0, "customerId", "must be greater than 0")
            .Require(body.Lines is { Count: > 0 }, "lines", "must contain at least one line")
            .Require(body.Lines is null || body.Lines.Count <= MaxLines, "lines", $"must contain at most {MaxLines} lines");
        if (body.Lines is null)
        {
            return validation;
        }

        for (var i = 0; i < body.Lines.Count; i++)
        {
            var line = body.Lines[i];
            validation.Require(line is not null, $"lines[{i}]", "must be an object");
            if (line is null)
            {
                continue;
            }

            validation.Require(line.ProductId is > 0, $"lines[{i}].productId", "is required and must be greater than 0")
                .Require(line.Quantity is > 0 and <= MaxQuantity, $"lines[{i}].quantity", $"is required and must be between 1 and {MaxQuantity}")
                .Require(line.ProductId is null || body.Lines.Take(i).All(other => other?.ProductId != line.ProductId),
                    $"lines[{i}].productId", "repeats a product of an earlier line; add the quantities instead");
        }

        return validation;
    }

    private static async Task<Results<Ok<Order>, ProblemHttpResult>> GetAsync(
        long id, OrderStore store, IOptionsMonitor<OrdersOptions> options, CancellationToken cancellationToken)
    {
        var order = id <= 0 ? null
            : options.CurrentValue.SharedConnectionReads ? await store.FindOnSharedConnectionAsync(id, cancellationToken)
            : await store.FindAsync(id, cancellationToken);
        return order is null ? Problems.NotFound($"Order {id} does not exist.") : TypedResults.Ok(order);
    }

    private static async Task<Results<Ok<OrderPage>, ValidationProblem, ProblemHttpResult>> ListByCustomerAsync(
        long id, int? page, int? pageSize, OrderStore store, IOptionsMonitor<OrdersOptions> options, CancellationToken cancellationToken)
    {
        var validation = new Validation()
            .Require(page is null or >= 1 and <= MaxPage, "page", $"must be between 1 and {MaxPage}")
            .Require(pageSize is null or >= 1 and <= MaxPageSize, "pageSize", $"must be between 1 and {MaxPageSize}");
        if (!validation.IsValid)
        {
            return validation.ToProblem();
        }

        var (number, size) = (page ?? 1, pageSize ?? DefaultPageSize);
        var orders = id <= 0 ? null
            : options.CurrentValue.HistoryQueryPerOrder ? await store.FindByCustomerOneQueryPerOrderAsync(id, number, size, cancellationToken)
            : await store.FindByCustomerAsync(id, number, size, cancellationToken);
        return orders is null ? Problems.NotFound($"Customer {id} does not exist.") : TypedResults.Ok(new OrderPage(orders, number, size));
    }
}
