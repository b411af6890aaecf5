namespace Firedrill.Lab.Load;

/// <summary>
/// Picks a template for a sequence number by weight. The choice is a hash of (seed, sequence)
/// rather than a shared <see cref="Random"/>, so it is reproducible whatever order the closed
/// model's users claim numbers in, and needs no lock.
/// </summary>
internal sealed class RequestMix
{
    private readonly double[] _cumulative;
    private readonly ulong _seed;

    public RequestMix(IReadOnlyList<RequestTemplate> templates, int seed)
    {
        _cumulative = new double[templates.Count];
        var sum = 0.0;
        for (var i = 0; i < templates.Count; i++)
        {
            sum += templates[i].Weight;
            _cumulative[i] = sum;
        }

        for (var i = 0; i < _cumulative.Length; i++)
        {
            _cumulative[i] /= sum;
        }

        _seed = (ulong)seed * 0x9E3779B97F4A7C15UL;
    }

    public int Pick(long sequence)
    {
        if (_cumulative.Length == 1)
        {
            return 0;
        }

        // 53 random bits → a uniform double in [0, 1).
        var unit = (Mix(_seed + (ulong)sequence) >> 11) * (1.0 / (1UL << 53));
        var index = Array.BinarySearch(_cumulative, unit);
        index = index >= 0 ? index + 1 : ~index;
        return Math.Min(index, _cumulative.Length - 1);
    }

    // SplitMix64's finaliser: consecutive inputs give independent-looking outputs.
    private static ulong Mix(ulong z)
    {
        z += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
