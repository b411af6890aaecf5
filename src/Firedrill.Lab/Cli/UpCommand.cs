using System.CommandLine;
using System.Text.Json;
using Firedrill.Lab.Fleet;
using Firedrill.Lab.Prometheus;
using Spectre.Console;

namespace Firedrill.Lab.Cli;

/// <summary><c>firedrill up [--replicas N] [--port-base P] [--json]</c>: the platform, until Ctrl+C.</summary>
internal static class UpCommand
{
    public static Command Create()
    {
        var replicas = new Option<int>("--replicas") { Description = "Shop replicas behind the gateway (1-8).", DefaultValueFactory = _ => 2 };
        replicas.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int>() is < 1 or > 8)
            {
                result.AddError("--replicas must be from 1 to 8");
            }
        });
        var portBase = new Option<int?>("--port-base")
        {
            Description = "Ports from here: gateway P, inventory P+1, Prometheus P+2, postgres_exporter P+3, replicas from P+11. " +
                "Default: gateway 8080, inventory 5090, Prometheus 9090, postgres_exporter 9187, replicas from 5101. A taken port moves to the next free one.",
        };
        portBase.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int?>() is < 1024 or > 65515)
            {
                result.AddError("--port-base must be from 1024 to 65515");
            }
        });
        var json = new Option<bool>("--json") { Description = "Print every address as one line of JSON (for scripts) instead of the table." };
        var command = new Command("up", "Run gateway, shop replicas, inventory, Kafka and Prometheus until Ctrl+C.") { replicas, portBase, json };
        command.SetAction((parse, cancellationToken) => LabCommands.Guard(() =>
            UpAsync(parse.GetValue(replicas), parse.GetValue(portBase), parse.GetValue(json), cancellationToken)));
        return command;
    }

    private static async Task<int> UpAsync(int replicas, int? portBase, bool json, CancellationToken cancellationToken)
    {
        var folder = LabEnvironment.NewRunFolder();
        var ports = portBase is { } chosen ? PortPlan.From(chosen) : PortPlan.Defaults;
        var options = LabEnvironment.FleetDefaults(folder, replicas) with { Ports = ports };
        var notes = new Progress<string>(step => Console.Error.WriteLine(step.Contains("port", StringComparison.Ordinal) ? step : $"starting {step}"));
        await using var fleet = await LabFleet.StartAsync(options, notes, cancellationToken);
        var prometheusPort = LoopbackPorts.Claim(ports.Prometheus, "prometheus", new HashSet<int>(fleet.All.Select(service => service.Address.Port)), notes);
        await using var prometheus = await PrometheusServer.StartAsync(folder, fleet.ScrapeTargets(), cancellationToken, prometheusPort);
        fleet.Changed += (changed, token) => prometheus.UpdateTargetsAsync(changed.ScrapeTargets(), token);
        // Where 'firedrill diagnose' finds each service's pid; removed when the fleet stops.
        await using var fleetFile = await FleetFile.PublishAsync(folder, fleet, cancellationToken);

        if (json)
        {
            Console.WriteLine(JsonSerializer.Serialize(Describe(fleet, prometheus, folder)));
        }
        else
        {
            PrintTable(fleet, prometheus);
        }

        try
        {
            await Task.Delay(Timeout.Infinite, cancellationToken);
        }
        catch (OperationCanceledException)
        {
            // Ctrl+C: fall through to the disposals, which stop every process.
        }

        return 0;
    }

    private static void PrintTable(LabFleet fleet, PrometheusServer prometheus)
    {
        var table = new Table().AddColumns("service", "address", "more");
        table.AddRow("gateway", fleet.Gateway.Address + "api/", "the public API, e.g. /api/products/1");
        foreach (var shop in fleet.Shops)
        {
            table.AddRow(shop.Name, shop.Address.ToString(), $"API docs {shop.Address}scalar/v1");
        }

        table.AddRow("inventory", fleet.Inventory.Address.ToString(), "the downstream dependency");
        table.AddRow("prometheus", prometheus.Address.ToString(), "every service's /metrics, 1 s scrape");
        table.AddRow("kafka", Markup.Escape(fleet.KafkaBootstrapServers), "librdkafka mock cluster, hosted by the lab");
        table.AddRow("postgres", fleet.Database, "a fresh database for this run");
        table.AddRow("postgres-exporter", $"http://{fleet.PostgresExporter.Address}/metrics", "the database's sessions, locks and statements, scraped by Prometheus");
        AnsiConsole.Write(table);
        // Plain lines: never wrapped, whatever the console's width.
        Console.WriteLine($"logs: {fleet.Logs}");
        Console.WriteLine($"lab token: {fleet.Token}");
        Console.WriteLine("Ctrl+C stops everything.");
    }

    /// <summary>What <c>--json</c> prints: every address a script needs, and the lab token for <c>/_lab/config</c>.</summary>
    private static Dictionary<string, object> Describe(LabFleet fleet, PrometheusServer prometheus, string folder) => new()
    {
        ["gateway"] = fleet.Gateway.Address.ToString(),
        ["api"] = fleet.Gateway.Address + "api/",
        ["replicas"] = fleet.Shops.Select(shop => new Dictionary<string, object> { ["name"] = shop.Name, ["address"] = shop.Address.ToString(), ["pid"] = shop.Pid }).ToList(),
        ["inventory"] = fleet.Inventory.Address.ToString(),
        ["prometheus"] = prometheus.Address.ToString(),
        ["kafka"] = fleet.KafkaBootstrapServers,
        ["database"] = fleet.Database,
        ["run_folder"] = folder,
        ["logs"] = fleet.Logs,
        ["lab_token"] = fleet.Token,
    };
}
