using Firedrill.Shop.Features.Jobs;
using Firedrill.Shop.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Firedrill.Shop.Tests.Features.Jobs;

/// <summary>
/// Three replicas running the same schedule on one database, as after scaling to three. The
/// schedule runs on a <see cref="ScheduleClock"/> the test steps from one tick to the next once every
/// replica waits, so each window's ticks come in the order their jitter drew, whatever the machine's
/// load; the lease, the runs and the inventory call are the real ones, on the real database.
/// </summary>
public sealed class InventorySyncJobTests : IAsyncLifetime
{
    private const int Replicas = 3;
    private const int Windows = 5;
    private static readonly string[] EveryReplica = ["replica-0", "replica-1", "replica-2"];
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    // The schedule's time; the first window opens one interval later.
    private static readonly DateTimeOffset Start = new(2026, 12, 1, 12, 0, 0, TimeSpan.Zero);

    private TestDatabase _database = null!;

    public async Task InitializeAsync() => _database = await Engines.CreateDatabaseAsync();

    [Fact]
    public async Task Schedule_ThreeReplicasWithLock_RunEachWindowExactlyOnce()
    {
        // No jitter: the three ticks of a window fire at the same instant and race for its lease.
        var runs = await RunThreeReplicasAsync("Lease", new() { ["Jobs:InventorySyncJitter"] = "00:00:00" });

        Assert.Equal(ExpectedWindows(), runs.Keys);
        Assert.All(runs, window => Assert.Single(window.Value));
    }

    [Fact]
    public async Task Schedule_ThreeReplicasWithoutLock_RunEachWindowThreeTimes()
    {
        var runs = await RunThreeReplicasAsync("None");

        Assert.Equal(ExpectedWindows(), runs.Keys);
        Assert.All(runs, window => Assert.Equal(EveryReplica, window.Value.Order()));
    }

    [Fact]
    public async Task Schedule_LeaseWithoutLockAtLeast_LaterTicksRunTheWindowAgain()
    {
        // Ticks spread over most of the window; each run ends before the next tick: the run frees the
        // lock as it ends, so every later tick takes it again.
        var runs = await RunThreeReplicasAsync("Lease", new() { ["Jobs:LockAtLeast"] = "00:00:00", ["Jobs:InventorySyncJitter"] = "00:00:00.800" });

        Assert.Equal(ExpectedWindows(), runs.Keys);
        Assert.All(runs, window => Assert.Equal(EveryReplica, window.Value.Order()));
    }

    [Fact]
    public async Task Schedule_LeaseWithLockAtLeast_TicksSpreadOverTheWindowRunItOnce()
    {
        // The same spread, each run over before the next tick as above: what keeps the later ticks out is
        // lock-at-least (the default, 4 s, longer than the spread), not a run still holding the lock. The
        // lease is the window's own, so holding it past the window does not cost the next window its run.
        var runs = await RunThreeReplicasAsync("Lease", new() { ["Jobs:InventorySyncJitter"] = "00:00:00.800" });

        Assert.Equal(ExpectedWindows(), runs.Keys);
        Assert.All(runs, window => Assert.Single(window.Value));
    }

    [Fact]
    public async Task Schedule_RowWithoutExpiryLeftByAKilledHolder_SkipsEveryWindow()
    {
        // What a holder killed mid-run leaves: the job's row, with no expiry.
        var runs = await RunThreeReplicasAsync("RowWithoutExpiry", before: () => _database.ExecuteAsync(
            "INSERT INTO job_locks (name, lock_until, locked_at, locked_by) VALUES ('inventory-sync', NULL, now(), 'killed')"));

        Assert.Empty(runs);
    }

    [Fact]
    public async Task Schedule_LeaseAfterAKilledHolderOfAnEarlierWindow_RunsTheNextWindows()
    {
        // The row a killed holder of the broken path left, and the first window's lease a killed holder
        // still has (its lock-at-most not over): that window is its holder's; every later one runs, once.
        var first = ExpectedWindows()[0];
        var runs = await RunThreeReplicasAsync("Lease", before: () => _database.ExecuteAsync(
            $"""
            INSERT INTO job_locks (name, lock_until, locked_at, locked_by) VALUES ('inventory-sync', NULL, now(), 'killed'),
                ('{InventorySyncJob.JobName}:{first:O}', now() + interval '1 hour', now(), 'killed')
            """));

        Assert.Equal(ExpectedWindows().Skip(1), runs.Keys);
        Assert.All(runs, window => Assert.Single(window.Value));
    }

    private static List<DateTime> ExpectedWindows() =>
        Enumerable.Range(1, Windows).Select(i => (Start + i * Interval).UtcDateTime).ToList();

    /// <summary>
    /// Starts three replicas on one <see cref="ScheduleClock"/> and steps it through <see cref="Windows"/>
    /// windows: to the next tick due, then waits until every replica is back waiting for its next one.
    /// Returns each window's runs, by replica, from <c>job_runs</c>.
    /// </summary>
    private async Task<SortedDictionary<DateTime, List<string>>> RunThreeReplicasAsync(
        string jobLock, Dictionary<string, string?>? extra = null, Func<Task>? before = null)
    {
        // The schema exists once a first replica has started; a test's setup row goes in before the others start.
        if (before is not null)
        {
            await using var migrate = new ShopInstance(_database.ConnectionString);
            await before();
        }

        var settings = new Dictionary<string, string?>
        {
            ["Jobs:InventorySyncEnabled"] = "true",
            ["Jobs:InventorySyncInterval"] = "00:00:01",
            ["Jobs:InventorySyncBatchSize"] = "2",
            ["Jobs:Lock"] = jobLock,
            // No inventory runs here: fail fast and record the run as degraded.
            ["InventoryClient:MaxRetries"] = "0",
        };
        foreach (var (key, value) in extra ?? [])
        {
            settings[key] = value;
        }

        var clock = new ScheduleClock(Start);
        var replicas = new List<ShopInstance>();
        try
        {
            for (var i = 0; i < Replicas; i++)
            {
                replicas.Add(new ShopInstance(_database.ConnectionString, new Dictionary<string, string?>(settings) { ["Lab:InstanceId"] = $"replica-{i}" },
                    services: services => ScheduleOn(services, clock)));
            }

            var end = Start + (Windows + 1) * Interval;
            await clock.WaitForPendingAsync(Replicas);
            while (clock.NextDue is { } next && next < end)
            {
                clock.AdvanceTo(next);
                await clock.WaitForPendingAsync(Replicas);
            }
        }
        finally
        {
            foreach (var replica in replicas)
            {
                await replica.DisposeAsync();
            }
        }

        var runs = new SortedDictionary<DateTime, List<string>>();
        await using var connection = new Npgsql.NpgsqlConnection(_database.ConnectionString);
        await connection.OpenAsync();
        await using var command = new Npgsql.NpgsqlCommand("SELECT window_start, replica_id FROM job_runs ORDER BY window_start, replica_id", connection);
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            var window = DateTime.SpecifyKind(reader.GetDateTime(0), DateTimeKind.Utc);
            if (!runs.TryGetValue(window, out var replicasOfWindow))
            {
                runs[window] = replicasOfWindow = [];
            }

            replicasOfWindow.Add(reader.GetString(1));
        }

        return runs;
    }

    /// <summary>The job as the app registers it, on the test's clock.</summary>
    private static void ScheduleOn(IServiceCollection services, ScheduleClock clock)
    {
        services.Remove(services.Single(service => service.ServiceType == typeof(IHostedService) && service.ImplementationType == typeof(InventorySyncJob)));
        services.AddSingleton<IHostedService>(provider => ActivatorUtilities.CreateInstance<InventorySyncJob>(provider, clock));
    }

    public async Task DisposeAsync() => await _database.DisposeAsync();
}
