using System.Net;
using Firedrill.Inventory.Tests.Support;

namespace Firedrill.Inventory.Tests.Faults;

/// <summary>
/// The knobs, turned at run time through <c>/_lab/config</c> as the lab does. Durations are
/// asserted as lower bounds only (what the client must at least wait); a busy machine only
/// makes things slower.
/// </summary>
public sealed class InjectedFaultsTests : IDisposable
{
    private readonly InventoryInstance _inventory = new();
    private readonly InventoryMeters _meters;

    public InjectedFaultsTests() => _meters = new InventoryMeters(_inventory);

    private HttpClient Client => _inventory.Client;

    [Fact]
    public async Task Latency_SetAtRunTime_DelaysEveryInventoryRequest()
    {
        Assert.Equal(HttpStatusCode.OK, (await Client.GetAsync("/inventory/SKU-000001")).StatusCode);

        await _inventory.ConfigureAsync("""{"Inventory:LatencyMs": 300}""");
        var (read, readTime) = await InventoryAssertions.TimeAsync(() => Client.GetAsync("/inventory/SKU-000001"));
        var (reserve, reserveTime) = await InventoryAssertions.TimeAsync(() => Client.PostJsonAsync(
            "/inventory/reservations", """{"orderRef": "slow", "lines": [{"sku": "SKU-000001", "quantity": 1}]}"""));

        Assert.Equal(HttpStatusCode.OK, read.StatusCode);
        Assert.Equal(HttpStatusCode.Created, reserve.StatusCode);
        Assert.True(readTime >= TimeSpan.FromMilliseconds(250), $"the read took {readTime.TotalMilliseconds} ms");
        Assert.True(reserveTime >= TimeSpan.FromMilliseconds(250), $"the reservation took {reserveTime.TotalMilliseconds} ms");
    }

    [Fact]
    public async Task LatencyScope_Reservations_SlowsReservationsAndNotReads()
    {
        await _inventory.ConfigureAsync("""{"Inventory:LatencyMs": 1500, "Inventory:LatencyScope": "Reservations"}""");

        var (read, readTime) = await InventoryAssertions.TimeAsync(() => Client.GetAsync("/inventory/SKU-000002"));
        var (reserve, reserveTime) = await InventoryAssertions.TimeAsync(() => Client.PostJsonAsync(
            "/inventory/reservations", """{"orderRef": "scoped", "lines": [{"sku": "SKU-000002", "quantity": 1}]}"""));

        Assert.Equal(HttpStatusCode.OK, read.StatusCode);
        Assert.Equal(HttpStatusCode.Created, reserve.StatusCode);
        Assert.True(reserveTime >= TimeSpan.FromMilliseconds(1400), $"the reservation took {reserveTime.TotalMilliseconds} ms");
        // Far below the delay: only a delayed read fails this, not a slow machine.
        Assert.True(readTime < TimeSpan.FromMilliseconds(1000), $"the read took {readTime.TotalMilliseconds} ms");
    }

    [Fact]
    public async Task LatencyScope_Unknown_IsRefused() =>
        Assert.Equal(HttpStatusCode.BadRequest, (await _inventory.PutConfigAsync("""{"Inventory:LatencyScope": "Writes"}""")).StatusCode);

    [Fact]
    public async Task Latency_Set_HealthMetricsAndLabAreNotDelayed()
    {
        await _inventory.ConfigureAsync("""{"Inventory:LatencyMs": 5000}""");

        // Far below the 5 s delay, so only a delayed endpoint fails this, not a slow machine.
        foreach (var path in new[] { "/health/live", "/health/ready", "/metrics", "/openapi/v1.json" })
        {
            var (response, elapsed) = await InventoryAssertions.TimeAsync(() => Client.GetAsync(path));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.True(elapsed < TimeSpan.FromMilliseconds(2500), $"{path} took {elapsed.TotalMilliseconds} ms");
        }

        var (_, configTime) = await InventoryAssertions.TimeAsync(_inventory.GetConfigAsync);
        Assert.True(configTime < TimeSpan.FromMilliseconds(2500), $"/_lab/config took {configTime.TotalMilliseconds} ms");
    }

    [Fact]
    public async Task Latency_CallerGivesUp_ServerStopsWaitingAndCountsAborted()
    {
        await _inventory.ConfigureAsync("""{"Inventory:LatencyMs": 20000}""");
        using var timeout = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Client.GetAsync("/inventory/SKU-000001", timeout.Token));

        // Long before the 20 s delay would have ended: the delay honours RequestAborted.
        await InventoryMeters.UntilAsync(() => _meters.Requests("aborted") == 1 && _meters.InFlight == 0, "the aborted request is counted and has left");
        Assert.Equal(0, _meters.Requests("ok"));
    }

    [Fact]
    public async Task ErrorRate_One_Returns503ProblemAfterTheLatencyAndTakesNoStock()
    {
        await _inventory.ConfigureAsync("""{"Inventory:ErrorRate": 1, "Inventory:LatencyMs": 300}""");

        var (read, elapsed) = await InventoryAssertions.TimeAsync(() => Client.GetAsync("/inventory/SKU-000001"));
        var reserve = await Client.PostJsonAsync("/inventory/reservations", """{"orderRef": "failing", "lines": [{"sku": "SKU-000002", "quantity": 5}]}""");

        var problem = await read.AssertProblemAsync(HttpStatusCode.ServiceUnavailable);
        Assert.Equal("Service unavailable", problem.GetProperty("title").GetString());
        Assert.True(elapsed >= TimeSpan.FromMilliseconds(250), $"the error came after {elapsed.TotalMilliseconds} ms, before the latency");
        await reserve.AssertProblemAsync(HttpStatusCode.ServiceUnavailable);
        Assert.Equal(2, _meters.Requests("error"));

        await _inventory.ConfigureAsync("""{"Inventory:ErrorRate": 0, "Inventory:LatencyMs": 0}""");
        Assert.Equal(1_000_000, await Client.AvailableAsync("SKU-000002"));
        Assert.Equal(HttpStatusCode.OK, (await Client.GetAsync("/inventory/SKU-000001")).StatusCode);
    }

    [Fact]
    public async Task Capacity_OneAtATime_RequestsQueueAndAllSucceed()
    {
        await _inventory.ConfigureAsync("""{"Inventory:MaxConcurrentRequests": 1, "Inventory:LatencyMs": 300}""");

        var (responses, elapsed) = await InventoryAssertions.TimeAsync(() =>
            Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Client.GetAsync("/inventory/SKU-000001"))));

        Assert.All(responses, response => Assert.Equal(HttpStatusCode.OK, response.StatusCode));
        // Four 300 ms requests one after another; side by side they would take 300 ms.
        Assert.True(elapsed >= TimeSpan.FromMilliseconds(1100), $"4 requests took {elapsed.TotalMilliseconds} ms in total");
        Assert.Equal(1, _meters.MaxInFlight);
        Assert.True(_meters.MaxQueued >= 1, "no request waited in the queue");
    }

    [Fact]
    public async Task Capacity_QueueFull_Returns503AtOnceAndCountsRejected()
    {
        await _inventory.ConfigureAsync("""{"Inventory:MaxConcurrentRequests": 1, "Inventory:QueueLimit": 0, "Inventory:LatencyMs": 20000}""");
        using var first = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        var holding = Client.GetAsync("/inventory/SKU-000001", first.Token);
        await InventoryMeters.UntilAsync(() => _meters.InFlight == 1, "the first request holds the only permit");

        var (rejected, elapsed) = await InventoryAssertions.TimeAsync(() => Client.GetAsync("/inventory/SKU-000001"));

        var problem = await rejected.AssertProblemAsync(HttpStatusCode.ServiceUnavailable);
        Assert.Contains("capacity", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.True(elapsed < TimeSpan.FromSeconds(10), $"the rejection took {elapsed.TotalMilliseconds} ms");
        Assert.Equal(1, _meters.Requests("rejected"));
        await first.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => holding);
    }

    [Fact]
    public async Task Capacity_RaisedWhileRequestsHoldPermits_TheyFinishAndTheNewLimitApplies()
    {
        await _inventory.ConfigureAsync("""{"Inventory:MaxConcurrentRequests": 1, "Inventory:LatencyMs": 1000}""");
        var holding = Client.GetAsync("/inventory/SKU-000001");
        await InventoryMeters.UntilAsync(() => _meters.InFlight == 1, "the first request holds the only permit");

        await _inventory.ConfigureAsync("""{"Inventory:MaxConcurrentRequests": 3}""");
        var after = await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => Client.GetAsync("/inventory/SKU-000001")));

        Assert.Equal(HttpStatusCode.OK, (await holding).StatusCode);
        Assert.All(after, response => Assert.Equal(HttpStatusCode.OK, response.StatusCode));
        Assert.True(_meters.MaxInFlight >= 3, $"at most {_meters.MaxInFlight} requests were served at once after raising the limit to 3");
    }

    public void Dispose()
    {
        _meters.Dispose();
        _inventory.Dispose();
    }
}
