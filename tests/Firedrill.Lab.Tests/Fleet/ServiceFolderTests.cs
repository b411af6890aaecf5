using Firedrill.Lab.Fleet;
using Firedrill.Lab.Tests.Prometheus;

namespace Firedrill.Lab.Tests.Fleet;

public sealed class ServiceFolderTests : IDisposable
{
    private const string Shop = "Firedrill.Shop";
    private static readonly DateTime Built = new(2026, 11, 1, 0, 0, 0, DateTimeKind.Utc);
    private static readonly DateTime Published = Built.AddMinutes(5);

    private readonly TempFolder _artifacts = new();

    [Fact]
    public void ServiceFolder_PublishNewerThanBuild_RunsThePublish()
    {
        Write("bin", Built, "Firedrill.Shop.dll", "Npgsql.dll");
        var published = Write("publish", Published, "Firedrill.Shop.dll", "Npgsql.dll");

        Assert.Equal(published, ServiceProcess.ServiceFolder(_artifacts.Path, "release", Shop));
    }

    [Fact]
    public void ServiceFolder_ADependencyRebuiltAfterThePublish_RunsTheBuild()
    {
        // Only a referenced project changed since the publish: the service's own assembly keeps its time.
        var build = Write("bin", Built, "Firedrill.Shop.dll");
        Write("bin", Published.AddMinutes(1), "Firedrill.ServiceDefaults.dll");
        Write("publish", Published, "Firedrill.Shop.dll", "Firedrill.ServiceDefaults.dll");

        Assert.Equal(build, ServiceProcess.ServiceFolder(_artifacts.Path, "release", Shop));
    }

    [Fact]
    public void ServiceFolder_NothingPublished_RunsTheBuild()
    {
        var build = Write("bin", Built, "Firedrill.Shop.dll");

        Assert.Equal(build, ServiceProcess.ServiceFolder(_artifacts.Path, "release", Shop));
    }

    /// <summary>Writes empty assemblies dated <paramref name="time"/> into {artifacts}/{kind}/Firedrill.Shop/release; returns that folder.</summary>
    private string Write(string kind, DateTime time, params string[] names)
    {
        var folder = Path.Combine(_artifacts.Path, kind, Shop, "release");
        Directory.CreateDirectory(folder);
        foreach (var name in names)
        {
            var file = Path.Combine(folder, name);
            File.WriteAllBytes(file, []);
            File.SetLastWriteTimeUtc(file, time);
        }

        return folder;
    }

    public void Dispose() => _artifacts.Dispose();
}
