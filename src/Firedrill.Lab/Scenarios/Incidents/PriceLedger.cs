using System.Diagnostics;

namespace Firedrill.Lab.Scenarios.Incidents;

/// <summary>
/// What the stale-cache incident compares every read with: the price each product has in
/// PostgreSQL at the moment of the read. The lab is the only writer, so the database's price is
/// the phase's starting price (read with psql-equivalent SQL) until the lab's next committed write;
/// each write is kept with the moments it was sent and acknowledged. A read that overlaps a write
/// of its product may rightly see either price and is left out.
/// </summary>
internal sealed class PriceLedger(IReadOnlyDictionary<long, decimal> startingPrices)
{
    private readonly Lock _gate = new();
    private readonly Dictionary<long, List<Write>> _writes = [];
    private readonly List<Read> _reads = [];

    private sealed record Write(long Sent, long Committed, decimal Price);

    private sealed record Read(long ProductId, long Started, long Ended, decimal Price);

    /// <summary>A write the shop acknowledged (2xx): committed in PostgreSQL between <paramref name="sent"/> and <paramref name="acknowledged"/>.</summary>
    public void Written(long productId, long sent, long acknowledged, decimal price)
    {
        lock (_gate)
        {
            if (!_writes.TryGetValue(productId, out var writes))
            {
                _writes[productId] = writes = [];
            }

            writes.Add(new Write(sent, acknowledged, price));
        }
    }

    public void ReadAnswered(long productId, long started, long ended, decimal price)
    {
        lock (_gate)
        {
            _reads.Add(new Read(productId, started, ended, price));
        }
    }

    /// <summary>The price PostgreSQL should hold now for each product the lab wrote (its last acknowledged write).</summary>
    public IReadOnlyDictionary<long, decimal> LastWritten()
    {
        lock (_gate)
        {
            return _writes.ToDictionary(pair => pair.Key, pair => pair.Value.MaxBy(write => write.Committed)!.Price);
        }
    }

    /// <summary>Every read judged against the database's price at the time it was sent.</summary>
    public StaleReadStats Judge(TimeSpan settle)
    {
        var settleTicks = (long)(settle.TotalSeconds * Stopwatch.Frequency);
        var stats = new StaleReadStats();
        lock (_gate)
        {
            foreach (var read in _reads)
            {
                var writes = _writes.GetValueOrDefault(read.ProductId) ?? [];
                if (writes.Any(write => write.Sent < read.Ended && write.Committed > read.Started))
                {
                    stats.Overlapping++;
                    continue;
                }

                var last = writes.Where(write => write.Committed <= read.Started).MaxBy(write => write.Committed);
                var expected = last?.Price ?? startingPrices[read.ProductId];
                var stale = read.Price != expected;
                stats.Compared++;
                stats.Stale += stale ? 1 : 0;
                if (last is null)
                {
                    continue;
                }

                if (read.Started - last.Committed >= settleTicks)
                {
                    stats.AfterSettle++;
                    stats.StaleAfterSettle += stale ? 1 : 0;
                }
                else
                {
                    stats.WithinSettle++;
                    stats.StaleWithinSettle += stale ? 1 : 0;
                }
            }
        }

        return stats;
    }
}

/// <summary>Reads compared with PostgreSQL: all of them, and split by how long after their product's last write they were sent.</summary>
internal sealed class StaleReadStats
{
    public long Compared { get; set; }

    public long Stale { get; set; }

    public long Overlapping { get; set; }

    /// <summary>Reads sent at least the settle time after their product's last write in the phase.</summary>
    public long AfterSettle { get; set; }

    public long StaleAfterSettle { get; set; }

    public long WithinSettle { get; set; }

    public long StaleWithinSettle { get; set; }

    public static double Fraction(long part, long whole) => whole == 0 ? 0 : Math.Round((double)part / whole, 4);
}
