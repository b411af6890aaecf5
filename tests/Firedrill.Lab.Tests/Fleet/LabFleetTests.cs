using System.Text.Json;
using Firedrill.Lab.Fleet;
using Firedrill.Lab.Tests.Support;

namespace Firedrill.Lab.Tests.Fleet;

[Collection(nameof(FleetGroup))]
public sealed class LabFleetTests
{
    [Fact]
    public async Task StartScaleKillStop_LeavesNoProcessBehind()
    {
        var pids = new List<int>();
        var fleet = await LabFleet.StartAsync(LabDefaults.Fleet(LabDefaults.TempFolder(), replicas: 1), progress: null, CancellationToken.None);
        try
        {
            pids.AddRange(fleet.All.Select(service => service.Pid));
            Assert.Equal(3, pids.Count);
            // The database's exporter lives and dies with the fleet too.
            pids.Add(fleet.PostgresExporter.Pid);
            using var gateway = new HttpClient { BaseAddress = fleet.Gateway.Address };
            Assert.Equal(System.Net.HttpStatusCode.OK, (await gateway.GetAsync("/api/products/1")).StatusCode);

            var second = await fleet.AddReplicaAsync(CancellationToken.None);
            pids.Add(second.Pid);
            Assert.True(await Poll.UntilAsync(async () => (await ReadyDetailAsync(gateway)).Contains("2 of 2", StringComparison.Ordinal), TimeSpan.FromSeconds(20)),
                $"the gateway did not take the new replica: {await ReadyDetailAsync(gateway)}");

            await fleet.KillReplicaAsync(second.Name);
            Assert.False(LabDefaults.IsRunning(second.Pid));
            // Active health checks take the killed replica out of rotation; users keep being served.
            Assert.True(await Poll.UntilAsync(async () => (await ReadyDetailAsync(gateway)).Contains("1 of 2", StringComparison.Ordinal), TimeSpan.FromSeconds(20)),
                $"the gateway kept the killed replica: {await ReadyDetailAsync(gateway)}");
            for (var i = 0; i < 10; i++)
            {
                Assert.Equal(System.Net.HttpStatusCode.OK, (await gateway.GetAsync($"/api/products/{i + 1}")).StatusCode);
            }

            // A replica the fleet started with, taken out, leaves the gateway's destinations for good
            // (it once came back from the gateway's start settings and stayed in rotation).
            var first = fleet.Shops[0];
            var third = await fleet.AddReplicaAsync(CancellationToken.None);
            pids.Add(third.Pid);
            Assert.True(await Poll.UntilAsync(async () => (await ReadyDetailAsync(gateway)).Contains("2 of 3", StringComparison.Ordinal), TimeSpan.FromSeconds(20)),
                $"the gateway did not take the third replica: {await ReadyDetailAsync(gateway)}");
            await fleet.RemoveReplicaAsync(first.Name, CancellationToken.None);
            Assert.True(await Poll.UntilAsync(async () => (await ReadyDetailAsync(gateway)).Contains("1 of 2", StringComparison.Ordinal), TimeSpan.FromSeconds(20)),
                $"the gateway kept the removed first replica: {await ReadyDetailAsync(gateway)}");
        }
        finally
        {
            await fleet.DisposeAsync();
        }

        Assert.All(pids, pid => Assert.False(LabDefaults.IsRunning(pid), $"process {pid} outlived the fleet"));
    }

    private static async Task<string> ReadyDetailAsync(HttpClient gateway)
    {
        using var response = await gateway.GetAsync("/health/ready");
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return json.RootElement.GetProperty("checks").GetProperty("destinations").GetProperty("error").GetString() ?? "";
    }
}

/// <summary>Fleets and scenarios run alone: they are whole platforms on a 2-core machine.</summary>
[CollectionDefinition(nameof(FleetGroup), DisableParallelization = true)]
public sealed class FleetGroup;
