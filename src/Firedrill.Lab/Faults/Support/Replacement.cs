using Firedrill.Lab.Fleet;

namespace Firedrill.Lab.Faults.Support;

/// <summary>What an orchestrator does for crashed pods, done by the lab for the replicas a fault killed.</summary>
internal static class Replacement
{
    /// <summary>One new replica per dead one, started together and put in rotation together, then the dead taken out of the fleet.</summary>
    public static async Task ReplaceAsync(this LabFleet fleet, IReadOnlyCollection<ServiceProcess> dead, CancellationToken cancellationToken)
    {
        await fleet.AddReplicasAsync(dead.Count, cancellationToken);
        foreach (var replica in dead)
        {
            await fleet.RemoveReplicaAsync(replica.Name, cancellationToken);
        }
    }
}
