using Firedrill.ServiceDefaults.Http;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Firedrill.Inventory.Features.Sync;

public static class SyncEndpoints
{
    public const int MaxReplicaLength = 100;

    /// <summary><c>POST /inventory/sync</c> takes a window's reconciliation; <c>GET /inventory/sync</c> lists the windows received.</summary>
    public static RouteGroupBuilder MapSync(this RouteGroupBuilder inventory)
    {
        inventory.MapPost("/sync", Record);
        inventory.MapGet("/sync", (SyncLedger ledger) => TypedResults.Ok(ledger.Windows()));
        return inventory;
    }

    internal static IServiceCollection AddSync(this IServiceCollection services) => services.AddSingleton<SyncLedger>();

    private static Results<Accepted, ValidationProblem, ProblemHttpResult> Record(SyncRequest body, SyncLedger ledger)
    {
        var validation = new Validation()
            .Require(body.Window is not null, "window", "is required")
            .Require(!string.IsNullOrWhiteSpace(body.Replica), "replica", "is required")
            .Require(body.Replica is null || body.Replica.Length <= MaxReplicaLength, "replica", $"must be at most {MaxReplicaLength} characters")
            .Require(body.Checked is null or >= 0, "checked", "must not be negative")
            .Require(body.Differ is null or >= 0, "differ", "must not be negative")
            .Require(body.FencingToken is null or > 0, "fencingToken", "must be positive");
        if (!validation.IsValid)
        {
            return validation.ToProblem();
        }

        if (!ledger.Record(body.Window!.Value.ToUniversalTime(), body.Replica!, body.FencingToken))
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "Stale fencing token",
                detail: $"A reconciliation of {body.Window:O} with a later lease's fencing token was already taken; {body.FencingToken} is older. The sender's lease ended while it ran.");
        }

        return TypedResults.Accepted((string?)null);
    }
}
