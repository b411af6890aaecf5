using Firedrill.ServiceDefaults.Control;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Configuration;

namespace Firedrill.Shop.Tests.Support;

/// <summary>
/// One shop process-in-a-test: the real app on a real Kestrel bound to loopback, against real
/// PostgreSQL and Redis. Several instances on one database play replicas.
/// </summary>
public sealed class ShopInstance : WebApplicationFactory<Program>
{
    private readonly Dictionary<string, string?> _settings;

    public ShopInstance(string postgres, IDictionary<string, string?>? settings = null, bool realServer = true)
    {
        var database = new Npgsql.NpgsqlConnectionStringBuilder(postgres).Database;
        _settings = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase)
        {
            ["ConnectionStrings:Postgres"] = postgres,
            ["ConnectionStrings:Redis"] = Engines.Redis,
            ["Logging:LogLevel:Default"] = "Warning",
            // Most tests exercise the shop alone; those about inventory and jobs turn these back on.
            ["Orders:ReserveInventory"] = "false",
            ["Jobs:InventorySyncEnabled"] = "false",
            ["Kafka:BootstrapServers"] = KafkaMock.BootstrapServers,
            ["Kafka:PaymentsTopic"] = $"payments.{database}",
            ["Kafka:LedgerGroup"] = $"ledger.{database}",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            _settings[key] = value;
        }

        if (realServer)
        {
            UseKestrel(options => options.Listen(System.Net.IPAddress.Loopback, 0));
            StartServer();
        }
    }

    public static string NewToken() => Convert.ToHexString(Guid.NewGuid().ToByteArray()) + "lab";

    protected override void ConfigureWebHost(IWebHostBuilder builder) =>
        builder.ConfigureAppConfiguration((_, configuration) =>
        {
            // Before the lab overrides, which must stay the last source so that what the lab writes wins.
            var index = configuration.Sources.ToList().FindIndex(source => source is LabOverrides);
            var settings = new Microsoft.Extensions.Configuration.Memory.MemoryConfigurationSource { InitialData = _settings };
            if (index < 0)
            {
                configuration.Sources.Add(settings);
            }
            else
            {
                configuration.Sources.Insert(index, settings);
            }
        });
}
