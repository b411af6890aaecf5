using System.Globalization;
using Firedrill.Lab.Fleet;

namespace Firedrill.Lab.Cli;

/// <summary>Where the engines are and where runs go, from the environment ./firedrill prepares.</summary>
internal static class LabEnvironment
{
    public static string RunsRoot => Environment.GetEnvironmentVariable("FIREDRILL_RUNS") ?? Path.Combine(Directory.GetCurrentDirectory(), "runs");

    /// <summary>A new run folder, recorded as the latest so <c>firedrill trace</c> finds it.</summary>
    public static string NewRunFolder(string? root = null)
    {
        root ??= RunsRoot;
        var id = string.Create(CultureInfo.InvariantCulture, $"{DateTime.UtcNow:yyyyMMdd-HHmmss}-{Random.Shared.Next(0x1000, 0xFFFF):x4}");
        var folder = Path.Combine(root, id);
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(root, "latest"), id);
        return folder;
    }

    public static string? LatestRunFolder()
    {
        var marker = Path.Combine(RunsRoot, "latest");
        return File.Exists(marker) ? Path.Combine(RunsRoot, File.ReadAllText(marker).Trim()) : null;
    }

    /// <summary>The fleet's defaults, or a one-line reason they are missing.</summary>
    public static FleetOptions FleetDefaults(string runFolder, int replicas)
    {
        var postgres = Environment.GetEnvironmentVariable("ConnectionStrings__Postgres");
        var redis = Environment.GetEnvironmentVariable("ConnectionStrings__Redis");
        if (string.IsNullOrWhiteSpace(postgres) || string.IsNullOrWhiteSpace(redis))
        {
            throw new LabException("the engines are not configured: run ./firedrill (it runs eng/engines.sh) or source .firedrill/engines.env");
        }

        return new FleetOptions
        {
            RunFolder = runFolder,
            PostgresAdmin = postgres,
            Redis = redis,
            Replicas = replicas,
            KafkaBootstrapServers = Environment.GetEnvironmentVariable("Kafka__BootstrapServers") is { Length: > 0 } kafka ? kafka : null,
        };
    }
}

/// <summary>A failure the user can act on: printed as one line, exit code 1.</summary>
internal sealed class LabException(string message) : Exception(message);
