using Firedrill.ServiceDefaults.Http;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Firedrill.Inventory.Features.Stock;

public static class StockEndpoints
{
    public const int MaxOrderRefLength = 100;
    public const int MaxLines = 50;
    public const int MaxQuantity = 1_000;

    /// <summary>The only routes the lab's faults apply to (see <c>WithInjectedFaults</c>).</summary>
    public static RouteGroupBuilder MapStock(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/inventory").WithTags("Inventory");
        group.MapGet("/{sku}", Get);
        group.MapPost("/reservations", Reserve);
        group.MapDelete("/reservations/{orderRef}", Release);
        return group;
    }

    internal static IServiceCollection AddStock(this IServiceCollection services) => services.AddSingleton<StockLedger>();

    private static Results<Ok<StockLevel>, ValidationProblem, ProblemHttpResult> Get(string sku, StockLedger ledger)
    {
        if (!Sku.TryParse(sku, out var number))
        {
            return new Validation().Require(false, "sku", $"must look like {Sku.Example}").ToProblem();
        }

        return ledger.Available(number) is { } available
            ? TypedResults.Ok(new StockLevel(sku, available))
            : Problems.NotFound($"SKU {sku} does not exist.");
    }

    private static Results<Created<Reservation>, ValidationProblem, ProblemHttpResult> Reserve(
        ReservationRequest body, StockLedger ledger, HttpResponse response)
    {
        var validation = Validate(body);
        if (!validation.IsValid)
        {
            return validation.ToProblem();
        }

        var lines = body.Lines!.Select(line => (Number(line!.Sku), line.Quantity!.Value)).ToList();
        switch (ledger.Reserve(body.OrderRef!, lines))
        {
            case ReserveOutcome.Reserved reserved:
                return Created(reserved.Reservation);
            case ReserveOutcome.Replayed replayed:
                // A retry of a reservation that went through (its response was lost): same answer, stock taken once.
                response.Headers["Idempotent-Replayed"] = "true";
                return Created(replayed.Reservation);
            case ReserveOutcome.OrderRefConflict conflict:
                return Problems.Conflict("Reservation conflict",
                    $"Order {conflict.Existing.OrderRef} already has a reservation with other lines; release it first.");
            case ReserveOutcome.UnknownSku unknown:
                return Problems.NotFound($"SKU {unknown.Sku} does not exist.");
            case ReserveOutcome.InsufficientStock short_:
                return Problems.Conflict("Insufficient stock",
                    $"SKU {short_.Sku} has {short_.Available} available; {short_.Requested} were requested. Nothing was reserved.");
            case var outcome:
                throw new InvalidOperationException($"Unhandled outcome {outcome}.");
        }
    }

    private static Results<NoContent, ProblemHttpResult> Release(string orderRef, StockLedger ledger)
    {
        // The server decodes every escape in the path but %2F, so an order reference with a slash
        // (escaped by the caller, as in our Location) arrives with it still escaped.
        orderRef = orderRef.Replace("%2F", "/", StringComparison.OrdinalIgnoreCase);
        return ledger.Release(orderRef) is null
            ? Problems.NotFound($"Order {orderRef} has no reservation.")
            : TypedResults.NoContent();
    }

    private static Created<Reservation> Created(Reservation reservation) =>
        TypedResults.Created($"/inventory/reservations/{Uri.EscapeDataString(reservation.OrderRef)}", reservation);

    private static int Number(string? sku) => Sku.TryParse(sku, out var number) ? number : throw new InvalidOperationException("Validated above.");

    private static Validation Validate(ReservationRequest body)
    {
        var validation = new Validation()
            .Require(!string.IsNullOrWhiteSpace(body.OrderRef), "orderRef", "is required")
            .Require(body.OrderRef is null || body.OrderRef.Length <= MaxOrderRefLength, "orderRef", $"must be at most {MaxOrderRefLength} characters")
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

            validation.Require(Sku.TryParse(line.Sku, out _), $"lines[{i}].sku", $"is required and must look like {Sku.Example}")
                .Require(line.Quantity is >= 1 and <= MaxQuantity, $"lines[{i}].quantity", $"is required and must be between 1 and {MaxQuantity}")
                .Require(line.Sku is null || body.Lines.Take(i).All(other => other?.Sku != line.Sku),
                    $"lines[{i}].sku", "repeats the SKU of an earlier line; add the quantities instead");
        }

        return validation;
    }
}
