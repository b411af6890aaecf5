using System.Diagnostics;
using System.Text.Json;
using Firedrill.Lab.Tests.Fleet;
using Firedrill.Lab.Tests.Support;

namespace Firedrill.Lab.Tests.Cli;

/// <summary><c>firedrill diagnose</c> against a real fleet started by <c>firedrill up</c>, as a user runs both.</summary>
[Collection(nameof(FleetGroup))]
public sealed class DiagnoseCommandTests
{
    [Fact]
    public async Task Diagnose_AgainstFleetOfUp_RunsEachToolAndNamesTheRunningServicesOnBadInput()
    {
        var runs = LabDefaults.TempFolder();
        using var up = Process.Start(LabCli.StartInfo(runs, "up", "--replicas", "1"))!;
        // Drained, so the lab never blocks on a full pipe.
        _ = up.StandardOutput.ReadToEndAsync();
        _ = up.StandardError.ReadToEndAsync();
        try
        {
            var fleetFile = "";
            Assert.True(await Poll.UntilAsync(() => Task.FromResult(
                    Directory.EnumerateFiles(runs, "fleet.json", SearchOption.AllDirectories).FirstOrDefault() is { } found && (fleetFile = found).Length > 0),
                TimeSpan.FromSeconds(90)), "firedrill up wrote no fleet.json");
            var shop = Service(fleetFile, "shop-1");

            var (stacksExit, stacks) = await LabCli.RunAsync(runs, "diagnose", "shop-1", "stacks");
            Assert.Equal(0, stacksExit);
            Assert.StartsWith($"$ dotnet dotnet-stack report -p {shop}", stacks, StringComparison.Ordinal);
            Assert.Contains("Firedrill.Shop!Program.<Main>", stacks, StringComparison.Ordinal);

            var (heapExit, heap) = await LabCli.RunAsync(runs, "diagnose", "inventory", "heap");
            Assert.Equal(0, heapExit);
            Assert.StartsWith($"$ dotnet dotnet-gcdump report -p {Service(fleetFile, "inventory")}", heap, StringComparison.Ordinal);
            Assert.Contains("GC Heap bytes", heap, StringComparison.Ordinal);

            var (countersExit, counters) = await LabCli.RunAsync(runs, "diagnose", "gateway", "counters");
            Assert.Equal(0, countersExit);
            Assert.StartsWith($"$ dotnet dotnet-counters monitor -p {Service(fleetFile, "gateway")} --counters System.Runtime", counters, StringComparison.Ordinal);
            Assert.Contains("[System.Runtime]", counters, StringComparison.Ordinal);

            var (unknownExit, unknown) = await LabCli.RunAsync(runs, "diagnose", "shop-9", "stacks");
            Assert.Equal(1, unknownExit);
            Assert.Equal("firedrill: no service 'shop-9'; running: inventory, shop-1, gateway", unknown.Trim());

            using (var replica = Process.GetProcessById(shop))
            {
                replica.Kill();
                await replica.WaitForExitAsync();
            }

            var (stoppedExit, stopped) = await LabCli.RunAsync(runs, "diagnose", "shop-1", "heap");
            Assert.Equal(1, stoppedExit);
            Assert.Equal("firedrill: 'shop-1' is not running; running: inventory, gateway", stopped.Trim());
        }
        finally
        {
            // SIGTERM, as a service manager stops it: the lab stops its fleet and removes fleet.json.
            using (var term = Process.Start("kill", ["-TERM", up.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            {
                await term.WaitForExitAsync();
            }

            await up.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        }

        Assert.Empty(Directory.EnumerateFiles(runs, "fleet.json", SearchOption.AllDirectories));
        var (noFleetExit, noFleet) = await LabCli.RunAsync(runs, "diagnose", "shop-1", "stacks");
        Assert.Equal(1, noFleetExit);
        Assert.Equal("firedrill: no fleet is running: start one with ./firedrill up", noFleet.Trim());
    }

    private static int Service(string fleetFile, string name)
    {
        using var json = JsonDocument.Parse(File.ReadAllText(fleetFile));
        return json.RootElement.GetProperty("services").EnumerateArray()
            .Single(service => service.GetProperty("name").GetString() == name).GetProperty("pid").GetInt32();
    }
}
