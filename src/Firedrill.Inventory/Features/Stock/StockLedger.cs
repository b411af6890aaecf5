using Microsoft.Extensions.Options;

namespace Firedrill.Inventory.Features.Stock;

/// <summary>
/// The stock, in memory: this service stands in for a real downstream, and its slowness must
/// come from the lab's knobs, not from storage. One lock makes each reservation all-or-nothing
/// and its order reference unique; it is held for microseconds of arithmetic, never across an
/// await, so it is not what limits throughput.
/// </summary>
internal sealed partial class StockLedger
{
    private readonly Lock _gate = new();

    // Indexed by SKU number; slot 0 is unused so SKU-000001 is _available[1].
    private readonly int[] _available;
    private readonly Dictionary<string, Held> _reservations = new(StringComparer.Ordinal);

    public StockLedger(IOptions<InventoryOptions> options, ILogger<StockLedger> logger)
    {
        var settings = options.Value;
        _available = new int[settings.Skus + 1];
        Array.Fill(_available, settings.InitialStock, 1, settings.Skus);
        LogSeeded(logger, settings.Skus, settings.InitialStock);
    }

    /// <summary>Units available, or null when the SKU does not exist.</summary>
    public int? Available(int skuNumber) => Exists(skuNumber) ? Volatile.Read(ref _available[skuNumber]) : null;

    public ReserveOutcome Reserve(string orderRef, IReadOnlyList<(int SkuNumber, int Quantity)> lines)
    {
        lock (_gate)
        {
            if (_reservations.TryGetValue(orderRef, out var existing))
            {
                return existing.SameLines(lines)
                    ? new ReserveOutcome.Replayed(existing.Reservation)
                    : new ReserveOutcome.OrderRefConflict(existing.Reservation);
            }

            foreach (var (number, _) in lines)
            {
                if (!Exists(number))
                {
                    return new ReserveOutcome.UnknownSku(Sku.Format(number));
                }
            }

            // Check every line before taking any: a short line leaves all stock untouched.
            foreach (var (number, quantity) in lines)
            {
                if (_available[number] < quantity)
                {
                    return new ReserveOutcome.InsufficientStock(Sku.Format(number), quantity, _available[number]);
                }
            }

            foreach (var (number, quantity) in lines)
            {
                Volatile.Write(ref _available[number], _available[number] - quantity);
            }

            var reservation = new Reservation(orderRef, lines.Select(line => new ReservationLine(Sku.Format(line.SkuNumber), line.Quantity)).ToList());
            _reservations.Add(orderRef, new Held(reservation, [.. lines]));
            return new ReserveOutcome.Reserved(reservation);
        }
    }

    /// <summary>Removes the reservation and returns its stock; null when there is none.</summary>
    public Reservation? Release(string orderRef)
    {
        lock (_gate)
        {
            if (!_reservations.Remove(orderRef, out var held))
            {
                return null;
            }

            foreach (var (number, quantity) in held.Lines)
            {
                Volatile.Write(ref _available[number], _available[number] + quantity);
            }

            return held.Reservation;
        }
    }

    private bool Exists(int skuNumber) => skuNumber >= 1 && skuNumber < _available.Length;

    [LoggerMessage(EventId = 3101, Level = LogLevel.Information, Message = "Inventory seeded: {Skus} SKUs with {InitialStock} units each")]
    private static partial void LogSeeded(ILogger logger, int skus, int initialStock);

    private sealed record Held(Reservation Reservation, IReadOnlyList<(int SkuNumber, int Quantity)> Lines)
    {
        /// <summary>The same SKUs with the same quantities, in any order (SKUs are unique within a request).</summary>
        public bool SameLines(IReadOnlyList<(int SkuNumber, int Quantity)> lines) =>
            Lines.Count == lines.Count && lines.All(line => Lines.Contains(line));
    }
}
