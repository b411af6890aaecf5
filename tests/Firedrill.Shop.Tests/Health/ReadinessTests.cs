using System.Net;
using System.Text.Json;
using Firedrill.Shop.Tests.Support;
using Npgsql;

namespace Firedrill.Shop.Tests.Health;

public sealed class ReadinessTests : IAsyncLifetime
{
    private TestDatabase _database = null!;
    private TcpProxy _proxy = null!;
    private ShopInstance _shop = null!;
    private string _proxiedConnection = null!;

    public async Task InitializeAsync()
    {
        _database = await Engines.CreateDatabaseAsync();
        var direct = new NpgsqlConnectionStringBuilder(_database.ConnectionString);
        // The shop reaches PostgreSQL only through this proxy, so the test can partition them.
        _proxy = new TcpProxy(direct.Host!, direct.Port);
        var proxied = new NpgsqlConnectionStringBuilder(_database.ConnectionString) { Host = "127.0.0.1", Port = _proxy.Port, Timeout = 2 };
        _proxiedConnection = proxied.ConnectionString;
        _shop = new ShopInstance(proxied.ConnectionString);
    }

    [Fact]
    public async Task Ready_DatabaseAndRedisUp_IsHealthyWithEachCheck()
    {
        using var client = _shop.CreateClient();

        var response = await client.GetAsync("/health/ready");
        var report = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("Healthy", report.GetProperty("checks").GetProperty("postgres").GetProperty("status").GetString());
        Assert.Equal("Healthy", report.GetProperty("checks").GetProperty("redis").GetProperty("status").GetString());
    }

    [Fact]
    public async Task Ready_DatabaseUnreachable_IsUnhealthyWhileLiveStaysHealthy()
    {
        using var client = _shop.CreateClient();
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/health/ready")).StatusCode);

        _proxy.Cut();
        var started = DateTime.UtcNow;
        // A result answers for Health:ReadinessCacheTtl (500 ms): the probe after that runs the checks again.
        var ready = await HealthProbe.FirstNotOkAsync(client, "/health/ready");
        var elapsed = DateTime.UtcNow - started;
        var live = await client.GetAsync("/health/live");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        var report = JsonDocument.Parse(await ready.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("Unhealthy", report.GetProperty("checks").GetProperty("postgres").GetProperty("status").GetString());
        Assert.Equal("Healthy", report.GetProperty("checks").GetProperty("redis").GetProperty("status").GetString());
        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
        // Bounded by the cache's life and the check's own timeout (2 s), not by a TCP or pool wait; generous for a busy machine.
        Assert.True(elapsed < TimeSpan.FromSeconds(10), $"readiness took {elapsed}");
    }

    [Fact]
    public async Task Ready_WithinTheCacheLife_AnswersWithoutRunningTheChecks()
    {
        // A cache life far longer than the test: the second probe can only be the first one's result.
        await using var cached = new ShopInstance(_proxiedConnection, new Dictionary<string, string?> { ["Health:ReadinessCacheTtl"] = "00:01:00" });
        using var client = cached.CreateClient();
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/health/ready")).StatusCode);

        _proxy.Cut();
        var ready = await client.GetAsync("/health/ready");

        Assert.True(ready.StatusCode == HttpStatusCode.OK, await ready.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Live_DeepLivenessAndDatabaseUnreachable_IsUnhealthy()
    {
        // The deep-liveness defect of the shallow-health-checks incident: liveness runs the dependency checks.
        await using var deep = new ShopInstance(_proxiedConnection, new Dictionary<string, string?> { ["Health:LivenessChecksDependencies"] = "true" });
        using var client = deep.CreateClient();
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/health/live")).StatusCode);

        _proxy.Cut();
        var live = await HealthProbe.FirstNotOkAsync(client, "/health/live");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, live.StatusCode);
        var report = JsonDocument.Parse(await live.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("Unhealthy", report.GetProperty("checks").GetProperty("postgres").GetProperty("status").GetString());
    }

    public async Task DisposeAsync()
    {
        await _shop.DisposeAsync();
        await _proxy.DisposeAsync();
        await _database.DisposeAsync();
    }
}
