using System.Globalization;

namespace Firedrill.Inventory.Features.Stock;

public sealed record StockLevel(string Sku, int Available);

public sealed record ReservationRequest(string? OrderRef, IReadOnlyList<ReservationLineRequest?>? Lines);

public sealed record ReservationLineRequest(string? Sku, int? Quantity);

public sealed record Reservation(string OrderRef, IReadOnlyList<ReservationLine> Lines);

public sealed record ReservationLine(string Sku, int Quantity);

/// <summary>What a reservation came to: the reservation, or the reason there is none.</summary>
internal abstract record ReserveOutcome
{
    public sealed record Reserved(Reservation Reservation) : ReserveOutcome;

    /// <summary>The same order reference with the same lines: the first reservation, stock taken once.</summary>
    public sealed record Replayed(Reservation Reservation) : ReserveOutcome;

    /// <summary>The order reference is taken by a reservation with other lines.</summary>
    public sealed record OrderRefConflict(Reservation Existing) : ReserveOutcome;

    public sealed record UnknownSku(string Sku) : ReserveOutcome;

    public sealed record InsufficientStock(string Sku, int Requested, int Available) : ReserveOutcome;
}

/// <summary>SKUs are <c>SKU-</c> and six digits, numbered from 1, exactly as the shop seeds its products.</summary>
internal static class Sku
{
    private const string Prefix = "SKU-";
    private const int FormattedLength = 10;

    public const string Example = "SKU-000001";

    public static string Format(int number) => string.Create(CultureInfo.InvariantCulture, $"{Prefix}{number:D6}");

    /// <summary>True when <paramref name="value"/> is well formed; the number may still be unknown.</summary>
    public static bool TryParse(string? value, out int number)
    {
        number = 0;
        if (value is not { Length: FormattedLength } || !value.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return false;
        }

        var digits = value.AsSpan(Prefix.Length);
        return !digits.ContainsAnyExceptInRange('0', '9')
            && int.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out number);
    }
}
