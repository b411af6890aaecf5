using Firedrill.ServiceDefaults.Health;
using Firedrill.ServiceDefaults.Options;

namespace Firedrill.Shop.Features.Messaging;

internal static class MessagingExtensions
{
    /// <summary>Kafka through Confluent.Kafka: the outbox and its relay, the ledger consumer, lag, readiness.</summary>
    public static IHostApplicationBuilder AddMessaging(this IHostApplicationBuilder builder)
    {
        builder.Services.AddRuntimeOptions<KafkaOptions, KafkaOptionsValidator>(KafkaOptions.SectionName);
        builder.Services.AddSingleton<KafkaCluster>();
        builder.Services.AddSingleton<Outbox>();
        builder.Services.AddHostedService<OutboxRelay>();
        builder.Services.AddSingleton<MessagingMetrics>();
        builder.Services.AddSingleton<LedgerWriter>();
        builder.Services.AddSingleton<DeadLetters>();
        builder.Services.AddSingleton<LedgerHandler>();
        builder.Services.AddHostedService<LedgerConsumer>();
        builder.Services.AddSingleton<ConsumerLagMonitor>();
        builder.Services.AddHostedService(services => services.GetRequiredService<ConsumerLagMonitor>());
        // A singleton, so every probe reuses one admin client (AddCheck<T> alone builds a check per run).
        builder.Services.AddSingleton<KafkaHealthCheck>();
        builder.Services.AddHealthChecks().AddCheck<KafkaHealthCheck>("kafka", tags: [HealthEndpoints.ReadyTag], timeout: TimeSpan.FromSeconds(3));
        return builder;
    }

    /// <summary>Starts connecting to Kafka while the rest of start-up (migrations, Kestrel) runs.</summary>
    public static WebApplication WarmUpMessaging(this WebApplication app)
    {
        app.Services.GetRequiredService<KafkaHealthCheck>().WarmUp();
        return app;
    }
}
