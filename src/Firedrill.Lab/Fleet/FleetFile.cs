using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Firedrill.Lab.Fleet;

/// <summary>One service of a running fleet, as <c>firedrill diagnose</c> finds it.</summary>
public sealed record FleetService(string Name, int Pid, string Address);

/// <summary>
/// <c>fleet.json</c> in the run folder of <c>firedrill up</c>: the lab's pid and each service's
/// name, pid and address, rewritten when a replica joins or leaves and removed when the fleet
/// stops. Other commands (<c>firedrill diagnose</c>) read it to find a service's process.
/// </summary>
public sealed record FleetFile(int LabPid, IReadOnlyList<FleetService> Services)
{
    public const string FileName = "fleet.json";

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    /// <summary>Writes the fleet's file now and after every change; disposing removes it.</summary>
    public static async Task<IAsyncDisposable> PublishAsync(string runFolder, LabFleet fleet, CancellationToken cancellationToken)
    {
        var path = Path.Combine(runFolder, FileName);
        await WriteAsync(path, fleet, cancellationToken);
        fleet.Changed += (changed, token) => WriteAsync(path, changed, token);
        return new Removal(path);
    }

    /// <summary>The newest fleet under <paramref name="runsRoot"/> whose lab is still running, or null.</summary>
    public static FleetFile? FindRunning(string runsRoot)
    {
        if (!Directory.Exists(runsRoot))
        {
            return null;
        }

        foreach (var file in Directory.EnumerateDirectories(runsRoot).Select(run => new FileInfo(Path.Combine(run, FileName)))
                     .Where(file => file.Exists).OrderByDescending(file => file.LastWriteTimeUtc))
        {
            try
            {
                if (JsonSerializer.Deserialize<FleetFile>(File.ReadAllText(file.FullName), Json) is { } fleet && IsRunning(fleet.LabPid))
                {
                    return fleet;
                }
            }
            catch (Exception ex) when (ex is JsonException or IOException)
            {
                // Half-written or gone: a fleet starting or stopping; look further.
            }
        }

        return null;
    }

    /// <summary>The services whose process is alive.</summary>
    [JsonIgnore]
    public IEnumerable<FleetService> Running => Services.Where(service => IsRunning(service.Pid));

    private static async Task WriteAsync(string path, LabFleet fleet, CancellationToken cancellationToken)
    {
        var file = new FleetFile(Environment.ProcessId, fleet.All.Select(service => new FleetService(service.Name, service.Pid, service.Address.ToString())).ToList());
        // Written aside and moved, so a reader never sees half a file.
        var temporary = path + ".tmp";
        await File.WriteAllTextAsync(temporary, JsonSerializer.Serialize(file, Json), cancellationToken);
        File.Move(temporary, path, overwrite: true);
    }

    private static bool IsRunning(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    private sealed class Removal(string path) : IAsyncDisposable
    {
        public ValueTask DisposeAsync()
        {
            File.Delete(path);
            return ValueTask.CompletedTask;
        }
    }
}
