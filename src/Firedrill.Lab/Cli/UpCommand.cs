using System.CommandLine;
using Firedrill.Lab.Fleet;
using Firedrill.Lab.Prometheus;
using Spectre.Console;

namespace Firedrill.Lab.Cli;

/// <summary><c>firedrill up [--replicas N]</c>: the platform, until Ctrl+C.</summary>
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
        var command = new Command("up", "Run gateway, shop replicas, inventory, Kafka and Prometheus until Ctrl+C.") { replicas };
        command.SetAction((parse, cancellationToken) => LabCommands.Guard(() => UpAsync(parse.GetValue(replicas), cancellationToken)));
        return command;
    }

    private static async Task<int> UpAsync(int replicas, CancellationToken cancellationToken)
    {
        var folder = LabEnvironment.NewRunFolder();
        var options = LabEnvironment.FleetDefaults(folder, replicas);
        await using var fleet = await LabFleet.StartAsync(options, new Progress<string>(step => Console.Error.WriteLine($"starting {step}")), cancellationToken);
        await using var prometheus = await PrometheusServer.StartAsync(folder, fleet.ScrapeTargets(), cancellationToken);
        fleet.Changed += (changed, token) => prometheus.UpdateTargetsAsync(changed.ScrapeTargets(), token);
        // Where 'firedrill diagnose' finds each service's pid; removed when the fleet stops.
        await using var fleetFile = await FleetFile.PublishAsync(folder, fleet, cancellationToken);

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
        AnsiConsole.Write(table);
        // Plain lines: Spectre wraps markup at the console's width (80 columns when not a terminal),
        // which split the token across two lines.
        Console.WriteLine($"logs: {fleet.Logs}");
        Console.WriteLine($"lab token: {fleet.Token}");
        AnsiConsole.MarkupLine("Ctrl+C stops everything.");
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
}
