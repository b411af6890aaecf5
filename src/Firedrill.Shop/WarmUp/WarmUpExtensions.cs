using Firedrill.ServiceDefaults.Health;
using Firedrill.ServiceDefaults.Options;

namespace Firedrill.Shop.WarmUp;

internal static class WarmUpExtensions
{
    public static IHostApplicationBuilder AddWarmUp(this IHostApplicationBuilder builder)
    {
        builder.Services.AddRuntimeOptions<WarmUpOptions, WarmUpOptionsValidator>(WarmUpOptions.SectionName);
        builder.Services.AddSingleton<WarmUpService>();
        builder.Services.AddHostedService(services => services.GetRequiredService<WarmUpService>());
        builder.Services.AddHttpClient(nameof(WarmUpService), client => client.Timeout = TimeSpan.FromSeconds(10));
        builder.Services.AddHealthChecks().AddCheck<WarmUpHealthCheck>("warm-up", tags: [HealthEndpoints.ReadyTag]);
        return builder;
    }

    /// <summary>Counts users' requests served before the warm-up finished (not probes, metrics, the lab, or the warm-up itself).</summary>
    public static IApplicationBuilder UseWarmUpTracking(this IApplicationBuilder app)
    {
        var warmUp = app.ApplicationServices.GetRequiredService<WarmUpService>();
        return app.Use((context, next) =>
        {
            var path = context.Request.Path;
            if (!context.Request.Headers.ContainsKey(WarmUpService.Header) && !path.StartsWithSegments("/health")
                && !path.StartsWithSegments("/metrics") && !path.StartsWithSegments("/_lab"))
            {
                warmUp.ServedRequest();
            }

            return next(context);
        });
    }
}
