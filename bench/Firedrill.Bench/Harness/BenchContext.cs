using Firedrill.Lab.Cli;
using Firedrill.Lab.Fleet;

namespace Firedrill.Bench.Harness;

/// <summary>What every benchmark gets: how many runs and how long each, where the engines are, and a progress line.</summary>
public sealed class BenchContext(int runs, TimeSpan duration, string runFolder)
{
    public int Runs { get; } = runs;

    /// <summary>The length of one measurement (one side of one run).</summary>
    public TimeSpan Duration { get; } = duration;

    public string RunFolder { get; } = runFolder;

    /// <summary>
    /// Load before measuring a service: a fresh replica's CPU per request falls about fivefold over
    /// its first 25 s under load (tiered compilation, dynamic PGO), then holds (measured here).
    /// </summary>
    public static readonly TimeSpan WarmUp = TimeSpan.FromSeconds(30);

    /// <summary>A fleet on a fresh database (gateway, replicas, inventory, the Kafka mock), as <c>firedrill up</c> starts it.</summary>
    public Task<LabFleet> StartFleetAsync(string name, int replicas, CancellationToken cancellationToken,
        IReadOnlyDictionary<string, string>? shop = null, IReadOnlyDictionary<string, string>? inventory = null,
        IReadOnlyDictionary<string, string>? gateway = null)
    {
        var folder = Path.Combine(RunFolder, name);
        var options = LabEnvironment.FleetDefaults(folder, replicas) with
        {
            ShopSettings = shop ?? new Dictionary<string, string>(),
            InventorySettings = inventory ?? new Dictionary<string, string>(),
            GatewaySettings = gateway ?? new Dictionary<string, string>(),
        };
        return LabFleet.StartAsync(options, new Progress<string>(step => Log($"  starting {step}")), cancellationToken);
    }

    public static void Log(string line) => Console.Error.WriteLine($"{DateTime.Now:HH:mm:ss} {line}");
}
