using Firedrill.Lab.Fleet;

namespace Firedrill.Lab.Tests.Support;

internal static class LabDefaults
{
    public static FleetOptions Fleet(string runFolder, int replicas = 1) => new()
    {
        RunFolder = runFolder,
        PostgresAdmin = Engines.Postgres,
        Redis = Engines.Redis,
        Replicas = replicas,
    };

    public static string TempFolder()
    {
        var folder = Path.Combine(Path.GetTempPath(), "firedrill-tests", Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(folder);
        return folder;
    }

    public static bool IsRunning(int pid)
    {
        try
        {
            using var process = System.Diagnostics.Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }
}
