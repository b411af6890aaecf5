namespace Firedrill.Bench.Harness;

/// <summary>One benchmark scenario (one file under Benchmarks/): it measures, then returns its ratios and notes.</summary>
public interface IBenchmark
{
    /// <summary>The name on the command line, e.g. <c>payments</c>.</summary>
    string Name { get; }

    string Title { get; }

    /// <summary>What is compared with what, and how: the first paragraph of its section.</summary>
    string Method { get; }

    Task<BenchmarkResult> RunAsync(BenchContext context, CancellationToken cancellationToken);
}
