using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Exporters;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;

namespace Firedrill.Bench.Micro;

/// <summary>
/// Entry point for the micro-benchmarks. A namespaced class rather than top-level statements:
/// the shop exposes a global <c>Program</c> for its test host, and a second global one here
/// would clash with it.
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        var summaries = BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args, CreateConfig()).ToArray();

        // BDN reports a failed benchmark in its log and carries on; CI needs an exit code instead.
        // A filter that matched nothing fails too, so a typo can't pass as a green run
        // (without a filter, --list and --help also end with no summaries, and that is fine).
        var filtered = args.Any(static arg => arg is "--filter" or "-f");
        var failed = (filtered && summaries.Length == 0) || summaries.Any(static summary =>
            summary.HasCriticalValidationErrors
            || summary.Reports.Length == 0
            || summary.Reports.Any(static report => !report.Success || report.ResultStatistics is null));
        return failed ? 1 : 0;
    }

    /// <summary>
    /// One launch, 3 warmups and 8 measured iterations: short enough that a class finishes in well
    /// under a minute on a 2-core machine, honest enough (its own process, a real pilot stage)
    /// that a regression of a few tens of percent still shows past the error column.
    /// The default config already exports GitHub markdown; it is added only if that changes,
    /// because a second copy makes BenchmarkDotNet warn about a duplicate exporter.
    /// </summary>
    private static ManualConfig CreateConfig()
    {
        var config = ManualConfig.Create(DefaultConfig.Instance)
            .AddJob(Job.Default
                .WithLaunchCount(1)
                .WithWarmupCount(3)
                .WithIterationCount(8)
                .WithId("Short"))
            .AddDiagnoser(MemoryDiagnoser.Default);
        if (!config.GetExporters().Contains(MarkdownExporter.GitHub))
        {
            config.AddExporter(MarkdownExporter.GitHub);
        }

        return config;
    }
}
