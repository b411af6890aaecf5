using Firedrill.ServiceDefaults.Health;
using Firedrill.ServiceDefaults.Options;
using StackExchange.Redis;

namespace Firedrill.Shop.Data;

internal static class ShopDataExtensions
{
    private static readonly TimeSpan ReadinessTimeout = TimeSpan.FromSeconds(2);

    /// <summary>PostgreSQL (one data source), Redis (one multiplexer) and their readiness checks.</summary>
    public static IHostApplicationBuilder AddShopData(this IHostApplicationBuilder builder)
    {
        builder.Services.AddRuntimeOptions<DbOptions, DbOptionsValidator>(DbOptions.SectionName);
        builder.Services.AddSingleton<ShopDatabase>();
        builder.Services.AddSingleton<DatabaseInitializer>();
        builder.Services.AddSingleton<BulkSeeder>();

        builder.Services.AddSingleton<IConnectionMultiplexer>(services =>
        {
            var redis = services.GetRequiredService<IConfiguration>().GetConnectionString("Redis")
                ?? throw new InvalidOperationException("ConnectionStrings:Redis is not set; run eng/engines.sh, which writes it to .firedrill/engines.env.");
            var options = ConfigurationOptions.Parse(redis);
            // Start and keep retrying when Redis is down: the cache degrades, the shop stays up.
            options.AbortOnConnectFail = false;
            options.ConnectTimeout = 2_000;
            options.ReconnectRetryPolicy = new ExponentialRetry(deltaBackOffMilliseconds: 500, maxDeltaBackOffMilliseconds: 5_000);
            // Redis is a cache here: with no connection, a command fails at once (HybridCache reads it
            // as a miss and the catalog is read from PostgreSQL) instead of waiting in the backlog for
            // the reconnect, up to the command timeout (5 s), as the client library does by default.
            // Redis:FailFast=false is that default, for the shallow-health-checks incident (lost-redis).
            options.BacklogPolicy = services.GetRequiredService<IConfiguration>().GetValue("Redis:FailFast", true)
                ? BacklogPolicy.FailFast
                : BacklogPolicy.Default;
            return ConnectionMultiplexer.Connect(options);
        });

        builder.Services.AddHealthChecks()
            .AddNpgSql(services => services.GetRequiredService<ShopDatabase>().DataSource,
                name: "postgres", tags: [HealthEndpoints.ReadyTag], timeout: ReadinessTimeout)
            // Degraded, not Unhealthy: without Redis the replica still serves (the catalog from
            // PostgreSQL, slower). Readiness answers 503 for it all the same, so the gateway prefers
            // whole replicas; when none is whole (Redis down for all), the gateway's HealthyOrPanic
            // policy routes to every replica and they serve degraded.
            .AddRedis(services => services.GetRequiredService<IConnectionMultiplexer>(),
                name: "redis", failureStatus: Microsoft.Extensions.Diagnostics.HealthChecks.HealthStatus.Degraded, tags: [HealthEndpoints.ReadyTag], timeout: ReadinessTimeout);
        return builder;
    }
}
