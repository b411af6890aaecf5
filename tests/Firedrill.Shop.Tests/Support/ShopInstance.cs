using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;

namespace Firedrill.Shop.Tests.Support;

/// <summary>
/// One shop process-in-a-test: the real app on a real Kestrel bound to loopback, against real
/// PostgreSQL, Redis and the Kafka mock. Several instances on one database play replicas.
/// </summary>
public sealed class ShopInstance : ServiceHost<Program>
{
    private readonly Action<IServiceCollection>? _services;

    /// <param name="services">Replaces services after the app's own registrations (a test's clock for one component, say).</param>
    public ShopInstance(string postgres, IDictionary<string, string?>? settings = null, bool realServer = true, Action<IServiceCollection>? services = null)
        : base(WithDefaults(postgres, settings), realServer)
    {
        _services = services;
        Start();
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        if (_services is { } services)
        {
            builder.ConfigureTestServices(services);
        }
    }

    private static Dictionary<string, string?> WithDefaults(string postgres, IDictionary<string, string?>? settings)
    {
        var database = new Npgsql.NpgsqlConnectionStringBuilder(postgres).Database;
        var merged = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase)
        {
            ["ConnectionStrings:Postgres"] = postgres,
            ["ConnectionStrings:Redis"] = Engines.Redis,
            // Most tests exercise the shop alone; those about inventory and jobs turn these back on.
            ["Orders:ReserveInventory"] = "false",
            ["Jobs:InventorySyncEnabled"] = "false",
            ["Kafka:BootstrapServers"] = KafkaMock.BootstrapServers,
            ["Kafka:PaymentsTopic"] = $"payments.{database}",
            ["Kafka:DeadLetterTopic"] = $"payments.{database}.dead-letter",
            ["Kafka:LedgerGroup"] = $"ledger.{database}",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            merged[key] = value;
        }

        return merged;
    }
}
