using Firedrill.Shop.Tests.Support;

namespace Firedrill.Shop.Tests.Features.Jobs;

/// <summary>Three replicas running the same schedule on one database, as after scaling to three.</summary>
public sealed class InventorySyncJobTests : IAsyncLifetime
{
    private TestDatabase _database = null!;

    public async Task InitializeAsync() => _database = await Engines.CreateDatabaseAsync();

    [Fact]
    public async Task Schedule_ThreeReplicasWithLock_RunEachWindowExactlyOnce()
    {
        var (runs, allUp, stopping) = await RunThreeReplicasAsync("Lease");

        Assert.All(runs, window => Assert.Equal(1, window.Runs));
        // While all three run the schedule, no window is skipped: each one has its row. Windows
        // during the teardown don't count: the replicas are stopping one by one then.
        var covered = runs.Where(window => window.Window > allUp && window.Window < stopping).Select(window => window.Window).ToList();
        Assert.True(covered.Count >= 3, $"only {covered.Count} windows ran after all replicas were up");
        Assert.All(covered.Zip(covered.Skip(1)), pair => Assert.Equal(TimeSpan.FromSeconds(1), pair.Second - pair.First));
    }

    [Fact]
    public async Task Schedule_ThreeReplicasWithoutLock_RunEachWindowThreeTimes()
    {
        var (runs, _, _) = await RunThreeReplicasAsync("None");

        // Windows after all three replicas were up: each replica ran each one.
        Assert.True(runs.Count(window => window.Runs == 3) >= 2, $"windows: {string.Join(", ", runs.Select(window => window.Runs))}");
        Assert.All(runs, window => Assert.InRange(window.Runs, 1, 3));
    }

    [Fact]
    public async Task Schedule_LeaseWithoutLockAtLeast_LaterTicksRunTheWindowAgain()
    {
        // Ticks spread over most of each window, runs of a few milliseconds: the first run frees the lock long before the last tick.
        var (runs, _, _) = await RunThreeReplicasAsync("Lease", new() { ["Jobs:LockAtLeast"] = "00:00:00", ["Jobs:InventorySyncJitter"] = "00:00:00.800" });

        Assert.True(runs.Count(window => window.Runs > 1) >= 2, $"windows: {string.Join(", ", runs.Select(window => window.Runs))}");
    }

    [Fact]
    public async Task Schedule_LeaseWithLockAtLeast_TicksSpreadOverTheWindowRunItOnce()
    {
        var (runs, _, _) = await RunThreeReplicasAsync("Lease", new() { ["Jobs:LockAtLeast"] = "00:00:01", ["Jobs:InventorySyncJitter"] = "00:00:00.800" });

        Assert.NotEmpty(runs);
        Assert.All(runs, window => Assert.Equal(1, window.Runs));
    }

    [Fact]
    public async Task Schedule_RowWithoutExpiryLeftByAKilledHolder_SkipsEveryWindow()
    {
        // What a holder killed mid-run leaves: the job's row, with no expiry.
        var (runs, _, _) = await RunThreeReplicasAsync("RowWithoutExpiry", before: () => _database.ExecuteAsync(
            "INSERT INTO job_locks (name, lock_until, locked_at, locked_by) VALUES ('inventory-sync', NULL, now(), 'killed')"));

        Assert.Empty(runs);
    }

    [Fact]
    public async Task Schedule_LeaseAfterAKilledHolderOfAnEarlierWindow_RunsTheNextWindows()
    {
        // The row a killed holder of the broken path left, and a window's lease a killed holder still has.
        var (runs, _, _) = await RunThreeReplicasAsync("Lease", before: () => _database.ExecuteAsync(
            """
            INSERT INTO job_locks (name, lock_until, locked_at, locked_by) VALUES ('inventory-sync', NULL, now(), 'killed'),
                ('inventory-sync:' || to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS') || '.0000000Z', now() + interval '1 hour', now(), 'killed')
            """));

        Assert.True(runs.Count >= 3, $"only {runs.Count} windows ran");
        Assert.All(runs, window => Assert.Equal(1, window.Runs));
    }

    private async Task<(List<(DateTime Window, long Runs)> Windows, DateTime AllUp, DateTime Stopping)> RunThreeReplicasAsync(
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

        var replicas = new List<ShopInstance>();
        DateTime allUp, stopping;
        try
        {
            for (var i = 0; i < 3; i++)
            {
                replicas.Add(new ShopInstance(_database.ConnectionString, new Dictionary<string, string?>(settings) { ["Lab:InstanceId"] = $"replica-{i}" }));
            }

            allUp = DateTime.UtcNow;
            await Task.Delay(TimeSpan.FromSeconds(5.5));
        }
        finally
        {
            stopping = DateTime.UtcNow;
            foreach (var replica in replicas)
            {
                await replica.DisposeAsync();
            }
        }

        var replicasSeen = await _database.ScalarAsync<long>("SELECT count(DISTINCT replica_id) FROM job_runs");
        Assert.True(jobLock != "None" || replicasSeen == 3, $"{replicasSeen} replicas ran the job");
        var windows = new List<(DateTime, long)>();
        await using var connection = new Npgsql.NpgsqlConnection(_database.ConnectionString);
        await connection.OpenAsync();
        await using var command = new Npgsql.NpgsqlCommand("SELECT window_start, count(*) FROM job_runs GROUP BY window_start ORDER BY window_start", connection);
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            windows.Add((reader.GetDateTime(0), reader.GetInt64(1)));
        }

        return (windows, allUp, stopping);
    }

    public async Task DisposeAsync() => await _database.DisposeAsync();
}
