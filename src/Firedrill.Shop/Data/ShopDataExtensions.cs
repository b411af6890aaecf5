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
            return ConnectionMultiplexer.Connect(options);
        });

        builder.Services.AddHealthChecks()
            .AddNpgSql(services => services.GetRequiredService<ShopDatabase>().DataSource,
                name: "postgres", tags: [HealthEndpoints.ReadyTag], timeout: ReadinessTimeout)
            .AddRedis(services => services.GetRequiredService<IConnectionMultiplexer>(),
                name: "redis", tags: [HealthEndpoints.ReadyTag], timeout: ReadinessTimeout);
        return builder;
    }
}
