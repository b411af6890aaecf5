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

    private static Results<Accepted, ValidationProblem> Record(SyncRequest body, SyncLedger ledger)
    {
        var validation = new Validation()
            .Require(body.Window is not null, "window", "is required")
            .Require(!string.IsNullOrWhiteSpace(body.Replica), "replica", "is required")
            .Require(body.Replica is null || body.Replica.Length <= MaxReplicaLength, "replica", $"must be at most {MaxReplicaLength} characters")
            .Require(body.Checked is null or >= 0, "checked", "must not be negative")
            .Require(body.Differ is null or >= 0, "differ", "must not be negative");
        if (!validation.IsValid)
        {
            return validation.ToProblem();
        }

        ledger.Record(body.Window!.Value.ToUniversalTime(), body.Replica!);
        return TypedResults.Accepted((string?)null);
    }
}
