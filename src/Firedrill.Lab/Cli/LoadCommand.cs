using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Firedrill.Lab.Load;
using Spectre.Console;

namespace Firedrill.Lab.Cli;

/// <summary><c>firedrill load --url U --path P [--rate R | --concurrency N] --duration S</c>: the generator on its own.</summary>
internal static class LoadCommand
{
    public static Command Create()
    {
        var url = new Option<Uri>("--url")
        {
            Description = "Base address (loopback only), e.g. http://127.0.0.1:5080",
            Required = true,
            // System.CommandLine has no converter for Uri.
            CustomParser = result =>
            {
                var text = result.Tokens.Count == 1 ? result.Tokens[0].Value : "";
                if (Uri.TryCreate(text, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https")
                {
                    return uri;
                }

                result.AddError($"--url '{text}' is not an absolute http(s) address, e.g. http://127.0.0.1:5080");
                return null;
            },
        };
        var paths = new Option<string[]>("--path") { Description = "A GET path of the mix, optionally weighted as PATH=WEIGHT; repeat for a mix.", Required = true, AllowMultipleArgumentsPerToken = true };
        var rate = new Option<double?>("--rate") { Description = "Open model: requests per second (constant arrival rate)." };
        var concurrency = new Option<int?>("--concurrency") { Description = "Closed model: concurrent users." };
        var duration = new Option<double>("--duration") { Description = "Seconds to run (1-600).", DefaultValueFactory = _ => 10 };
        var max = new Option<long?>("--requests") { Description = "Stop after this many requests." };
        var timeout = new Option<double>("--timeout") { Description = "Per-request timeout in seconds.", DefaultValueFactory = _ => 10 };
        var warmup = new Option<double>("--warmup") { Description = "Seconds of the same load first, not recorded (JIT, connection pools, caches).", DefaultValueFactory = _ => 0 };
        var json = new Option<FileInfo?>("--json") { Description = "Also write the result (totals, per endpoint, per second) to this JSON file." };
        var command = new Command("load", "Drive load at one service and print latency percentiles.") { url, paths, rate, concurrency, duration, max, timeout, warmup, json };
        command.Validators.Add(result =>
        {
            if (result.GetValue(rate) is null == result.GetValue(concurrency) is null)
            {
                result.AddError("give either --rate (open model) or --concurrency (closed model)");
            }
        });
        command.SetAction((parse, cancellationToken) => LabCommands.Guard(async () =>
        {
            // Checked here rather than in a validator, where options' default values are not applied.
            if (parse.GetValue(duration) is < 1 or > 600)
            {
                throw new ArgumentException("--duration must be from 1 to 600 seconds");
            }

            if (parse.GetValue(timeout) is <= 0 or > 120)
            {
                throw new ArgumentException("--timeout must be above 0 and at most 120 seconds");
            }

            if (parse.GetValue(warmup) is < 0 or > 300)
            {
                throw new ArgumentException("--warmup must be from 0 to 300 seconds");
            }

            if (parse.GetValue(json) is { Directory.Exists: false } missing)
            {
                throw new ArgumentException($"--json: the folder {missing.DirectoryName} does not exist");
            }

            var profile = new LoadProfile
            {
                Model = parse.GetValue(rate) is null ? LoadModel.Closed : LoadModel.Open,
                RatePerSecond = parse.GetValue(rate) ?? 0,
                Concurrency = parse.GetValue(concurrency) ?? 1,
                Duration = TimeSpan.FromSeconds(parse.GetValue(duration)),
                MaxRequests = parse.GetValue(max),
                RequestTimeout = TimeSpan.FromSeconds(parse.GetValue(timeout)),
                Mix = parse.GetValue(paths)!.Select(Template).ToList(),
            };
            using var client = LoadHttpClient.Create(parse.GetValue(url)!);
            var progress = new Progress<LoadProgress>(p => Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{p.Elapsed.TotalSeconds:0} s: {p.Completed} requests, {p.Errors} errors")));
            var generator = new LoadGenerator(client, TimeProvider.System);
            if (parse.GetValue(warmup) > 0)
            {
                Console.Error.WriteLine($"warming up for {parse.GetValue(warmup)} s (not recorded)");
                await generator.RunAsync(profile with { Duration = TimeSpan.FromSeconds(parse.GetValue(warmup)), MaxRequests = null }, null, cancellationToken);
            }

            var result = await generator.RunAsync(profile, progress, cancellationToken);
            Print(result);
            if (parse.GetValue(json) is { } file)
            {
                await using var stream = file.Create();
                await JsonSerializer.SerializeAsync(stream, result, JsonSerializerOptions.Web, cancellationToken);
            }

            return 0;
        }));
        return command;
    }

    private static RequestTemplate Template(string spec)
    {
        var equals = spec.LastIndexOf('=');
        var (path, weight) = equals > 0 && double.TryParse(spec[(equals + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture, out var w)
            ? (spec[..equals], w)
            : (spec, 1.0);
        if (!path.StartsWith('/'))
        {
            throw new ArgumentException($"--path '{spec}' must start with '/'");
        }

        return new RequestTemplate(path, weight, _ => new HttpRequestMessage(HttpMethod.Get, path));
    }

    private static void Print(LoadResult result)
    {
        var table = new Table().AddColumns("endpoint", "requests", "rps", "p50 ms", "p95 ms", "p99 ms", "max ms", "errors", "outcomes");
        foreach (var (name, stats) in result.Endpoints.Append(new KeyValuePair<string, EndpointStats>("all", result.Total)))
        {
            table.AddRow(Markup.Escape(name), N(stats.Requests), N(stats.Requests / Math.Max(result.Elapsed.TotalSeconds, 0.001)),
                N(stats.P50Ms), N(stats.P95Ms), N(stats.P99Ms), N(stats.MaxMs), N(stats.Errors),
                Markup.Escape(string.Join(" ", stats.Outcomes.Select(o => $"{o.Key}:{o.Value}"))));
        }

        AnsiConsole.Write(table);
    }

    private static string N(double value) => value.ToString("0.##", CultureInfo.InvariantCulture);
}
