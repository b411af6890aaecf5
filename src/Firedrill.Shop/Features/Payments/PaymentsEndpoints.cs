using System.Globalization;
using System.Text.RegularExpressions;
using Firedrill.ServiceDefaults.Options;
using Firedrill.ServiceDefaults.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace Firedrill.Shop.Features.Payments;

public static partial class PaymentsEndpoints
{
    public const string IdempotencyKeyHeader = "Idempotency-Key";
    public const string ReplayedHeader = "Idempotent-Replayed";
    public const int MaxKeyLength = 255;

    public static IEndpointRouteBuilder MapPayments(this IEndpointRouteBuilder app)
    {
        var payments = app.MapGroup("/payments").WithTags("Payments");
        payments.MapPost("/", PayAsync)
            .Produces<Payment>(StatusCodes.Status201Created)
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status422UnprocessableEntity);
        payments.MapGet("/{id}", GetAsync);
        return app;
    }

    internal static IHostApplicationBuilder AddPayments(this IHostApplicationBuilder builder)
    {
        builder.Services.AddRuntimeOptions<PaymentsOptions, PaymentsOptionsValidator>(PaymentsOptions.SectionName);
        builder.Services.AddSingleton<IdempotencyStore>();
        builder.Services.AddSingleton<PaymentService>();
        return builder;
    }

    private static async Task<IResult> PayAsync(
        HttpRequest request, PaymentRequest body, PaymentService payments, IOptionsMonitor<PaymentsOptions> options, CancellationToken cancellationToken)
    {
        var key = ParseKey(request.Headers[IdempotencyKeyHeader].ToString());
        var validation = new Validation()
            .Require(key is not null, IdempotencyKeyHeader, $"header is required: 1 to {MaxKeyLength} printable ASCII characters, unique per payment")
            .Require(body.OrderId is > 0, "orderId", "is required and must be greater than 0")
            .Money(body.Amount, "amount", options.CurrentValue.MaxAmount)
            .Require(body.Currency is not null && CurrencyCode().IsMatch(body.Currency), "currency", "is required: an ISO 4217 code of three capital letters");
        if (!validation.IsValid)
        {
            return validation.ToProblem();
        }

        var order = await payments.FindOrderAsync(body.OrderId!.Value, cancellationToken);
        if (order is null)
        {
            return Problems.NotFound($"Order {body.OrderId} does not exist.");
        }

        if (body.Amount != order.Total || body.Currency != order.Currency)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status422UnprocessableEntity, title: "Payment does not match the order",
                detail: string.Create(CultureInfo.InvariantCulture,
                    $"Order {order.Id} is {order.Total:0.00} {order.Currency}; this payment is {body.Amount:0.00} {body.Currency}."));
        }

        var outcome = await payments.PayOnceAsync(key!, order.Id, body.Amount!.Value, body.Currency!, cancellationToken);
        return outcome switch
        {
            PaymentOutcome.Created created => new StoredResult(created.Response, replayed: false),
            PaymentOutcome.Replayed replayed => new StoredResult(replayed.Response, replayed: true),
            PaymentOutcome.KeyInFlight => Problems.Conflict("Request in progress",
                $"A request with this {IdempotencyKeyHeader} is still being processed; retry later."),
            PaymentOutcome.KeyReused => TypedResults.Problem(statusCode: StatusCodes.Status422UnprocessableEntity, title: "Idempotency-Key reused",
                detail: $"This {IdempotencyKeyHeader} was already used with a different payload."),
            PaymentOutcome.AlreadyPaid paid => new AlreadyPaidResult(order.Id, paid.PaymentId),
            _ => throw new InvalidOperationException($"Unhandled outcome {outcome}."),
        };
    }

    private static async Task<Results<Ok<Payment>, ProblemHttpResult>> GetAsync(long id, PaymentService payments, CancellationToken cancellationToken)
    {
        var payment = id > 0 ? await payments.FindAsync(id, cancellationToken) : null;
        return payment is null ? Problems.NotFound($"Payment {id} does not exist.") : TypedResults.Ok(payment);
    }

    /// <summary>The draft makes the key a structured-field string ("..."); a bare token is accepted too.</summary>
    private static string? ParseKey(string raw)
    {
        var key = raw.Length >= 2 && raw[0] == '"' && raw[^1] == '"' ? raw[1..^1] : raw;
        return key.Length is > 0 and <= MaxKeyLength && PrintableAscii().IsMatch(key) ? key : null;
    }

    [GeneratedRegex("^[A-Z]{3}$")]
    private static partial Regex CurrencyCode();

    [GeneratedRegex("^[\\x21-\\x7E]+$")]
    private static partial Regex PrintableAscii();

    /// <summary>409 for an order that is paid already, pointing at its payment (Location), as problem details.</summary>
    private sealed class AlreadyPaidResult(long orderId, long paymentId) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.Headers.Location = $"{httpContext.Request.PathBase}/payments/{paymentId}";
            return Problems.Conflict("Order already paid",
                $"Order {orderId} is already paid by payment {paymentId}; it was not charged again.").ExecuteAsync(httpContext);
        }
    }

    /// <summary>Writes a stored response exactly as it was first written (status, body, Location).</summary>
    private sealed class StoredResult(StoredResponse response, bool replayed) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.StatusCode = response.Status;
            if (response.Location is not null)
            {
                // Stored relative to the service; behind the gateway, PathBase is the forwarded prefix (/api).
                httpContext.Response.Headers.Location = httpContext.Request.PathBase + response.Location;
            }

            if (replayed)
            {
                httpContext.Response.Headers[ReplayedHeader] = "true";
            }

            httpContext.Response.ContentType = "application/json; charset=utf-8";
            return httpContext.Response.WriteAsync(response.Body, httpContext.RequestAborted);
        }
    }
}
