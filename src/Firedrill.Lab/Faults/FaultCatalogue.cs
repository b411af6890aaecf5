namespace Firedrill.Lab.Faults;

/// <summary>The faults of issue 15, in its order; each can be named by id or by number.</summary>
public static class FaultCatalogue
{
    private static readonly Func<Fault>[] Factories =
    [
        () => new ReplicaKilled(),
        () => new ResponseLost(),
        () => new RelayKilled(),
        () => new ConsumerKilled(),
        () => new PoisonMessage(),
        () => new JobHolderPaused(),
        () => new SessionsTerminated(),
        () => new RedisDown(),
        () => new InventoryDegraded(),
        () => new Overload(),
        () => new HostileInput(),
        () => new ControlPlane(),
    ];

    public static IReadOnlyList<Fault> All => Factories.Select(create => create()).OrderBy(fault => fault.Number).ToList();

    /// <summary>The fault named by <paramref name="idOrNumber"/> ("replica-killed" or "1"), or null.</summary>
    public static Fault? Find(string idOrNumber) =>
        All.FirstOrDefault(fault => fault.Id == idOrNumber
            || fault.Number.ToString(System.Globalization.CultureInfo.InvariantCulture) == idOrNumber);
}
