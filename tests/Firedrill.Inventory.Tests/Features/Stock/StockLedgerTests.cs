using Firedrill.Inventory.Features.Stock;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Firedrill.Inventory.Tests.Features.Stock;

/// <summary>
/// The ledger without HTTP in front, under threads: thousands of overlapping calls, far more than
/// the HTTP tests can afford, and the invariants (no oversell, nothing partial, stock conserved) hold.
/// </summary>
public sealed class StockLedgerTests
{
    private const int Units = 1000;

    private readonly StockLedger _ledger = new(
        Options.Create(new InventoryOptions { Skus = 2, InitialStock = Units }), NullLogger<StockLedger>.Instance);

    [Fact]
    public void Reserve_ManyThreadsForTheLastUnits_NeverOversellNorReservePartially()
    {
        // Between them the threads try four times as many orders as there are units.
        var reserved = 0;
        Parallel.For(0, 4 * Units, new ParallelOptions { MaxDegreeOfParallelism = 4 }, i =>
        {
            if (_ledger.Reserve($"order-{i}", [(1, 1), (2, 1)]) is ReserveOutcome.Reserved)
            {
                Interlocked.Increment(ref reserved);
            }
        });

        Assert.Equal(Units, reserved);
        Assert.Equal(0, _ledger.Available(1));
        Assert.Equal(0, _ledger.Available(2));
    }

    [Fact]
    public void ReserveAndRelease_ManyThreads_EndWithTheInitialStock()
    {
        Parallel.For(0, 4 * Units, new ParallelOptions { MaxDegreeOfParallelism = 4 }, i =>
        {
            var orderRef = $"order-{i % 50}";
            if (_ledger.Reserve(orderRef, [(1, 3)]) is ReserveOutcome.Reserved)
            {
                _ledger.Release(orderRef);
            }
        });

        Assert.Equal(Units, _ledger.Available(1));
    }
}
