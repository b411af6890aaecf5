using System.CommandLine;
using System.Globalization;
using Firedrill.Bench.Benchmarks;
using Firedrill.Bench.Harness;
using Firedrill.Lab.Cli;

// bench/run [NAME...] [--runs N] [--seconds S] [--output FILE]: each benchmark in turn, then docs/benchmarks.md.
IBenchmark[] all =
[
    new PaymentsVsPostgres(),
    new CatalogVsBareAspNet(),
    new ResiliencePipelineCost(),
    new LoadGeneratorVsWrk(),
    new KafkaConsumerVsPostgres(),
    new Footprint(),
];

var names = new Argument<string[]>("benchmark") { Description = "Benchmarks to run (default: all): " + string.Join(", ", all.Select(b => b.Name)), Arity = ArgumentArity.ZeroOrMore };
var runs = new Option<int>("--runs") { Description = "Runs per benchmark (1-15); the median and range are quoted.", DefaultValueFactory = _ => 3 };
var seconds = new Option<int>("--seconds") { Description = "Seconds per measurement (3-60).", DefaultValueFactory = _ => 8 };
var output = new Option<string?>("--output") { Description = "The report to write (default: docs/benchmarks.md for the whole set; a subset's report goes to its run folder)." };
var micro = new Option<string?>("--micro-results") { Description = "BenchmarkDotNet's results folder, to include its GitHub-markdown reports." };
var root = new RootCommand("Firedrill's benchmarks: the shop and the lab against the engines' own limits, as ratios.") { names, runs, seconds, output, micro };
root.SetAction((parse, cancellationToken) => Guard(async () =>
{
    var selected = parse.GetValue(names) is { Length: > 0 } chosen
        ? chosen.Select(name => all.FirstOrDefault(b => b.Name == name)
            ?? throw new ArgumentException($"no benchmark '{name}'; choose from {string.Join(", ", all.Select(b => b.Name))}")).ToList()
        : [.. all];
    if (parse.GetValue(runs) is < 1 or > 15)
    {
        throw new ArgumentException("--runs must be from 1 to 15");
    }

    if (parse.GetValue(seconds) is < 3 or > 60)
    {
        throw new ArgumentException("--seconds must be from 3 to 60");
    }

    var folder = LabEnvironment.NewRunFolder(Path.Combine(LabEnvironment.RunsRoot, "bench"));
    var context = new BenchContext(parse.GetValue(runs), TimeSpan.FromSeconds(parse.GetValue(seconds)), folder);
    var results = new List<(IBenchmark, BenchmarkResult)>();
    foreach (var benchmark in selected)
    {
        BenchContext.Log($"{benchmark.Name}: {benchmark.Title}");
        var result = await benchmark.RunAsync(context, cancellationToken);
        results.Add((benchmark, result));
        foreach (var (quantity, series) in result.Measurements)
        {
            Console.WriteLine($"  {quantity}: {series}");
        }

        // The ratio last, as the issue asks: it is what the benchmark is for.
        foreach (var ratio in result.Ratios)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{benchmark.Name}: {ratio.Name} = {Series.Format(ratio.Value.Median)} ({Series.Format(ratio.Value.Min)}–{Series.Format(ratio.Value.Max)}), goal {ratio.GoalText}: {ratio.Verdict}"));
        }
    }

    var command = "bench/run" + (parse.GetValue(names) is { Length: > 0 } n ? " " + string.Join(' ', n) : "")
        + (parse.GetValue(runs) != 3 ? $" --runs {parse.GetValue(runs)}" : "") + (parse.GetValue(seconds) != 8 ? $" --seconds {parse.GetValue(seconds)}" : "");
    // Only the whole set regenerates docs/benchmarks.md; a subset must not replace it with a part.
    var report = parse.GetValue(output)
        ?? (parse.GetValue(names) is { Length: > 0 } ? Path.Combine(folder, "benchmarks.md") : Path.Combine("docs", "benchmarks.md"));
    Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(report))!);
    await File.WriteAllTextAsync(report, MarkdownReport.Render(results, context, command, parse.GetValue(micro)), cancellationToken);
    Console.WriteLine($"report: {report}");
    return 0;
}));
return await root.Parse(args).InvokeAsync();

// A benchmark that cannot measure (a tool missing, a service failing, errors under load) or a bad
// flag says so in one line, exit code 1.
static async Task<int> Guard(Func<Task<int>> action)
{
    try
    {
        return await action();
    }
    catch (Exception ex) when (ex is ArgumentException or LabException or InvalidOperationException or TimeoutException or IOException
        or System.ComponentModel.Win32Exception or HttpRequestException or Npgsql.NpgsqlException or Firedrill.Lab.Prometheus.PrometheusNotFoundException)
    {
        await Console.Error.WriteLineAsync($"bench: {ex.Message}");
        return 1;
    }
    catch (OperationCanceledException)
    {
        await Console.Error.WriteLineAsync("bench: stopped");
        return 130;
    }
}
