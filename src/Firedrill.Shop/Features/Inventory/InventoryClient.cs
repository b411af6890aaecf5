using System.Net;
using System.Net.Http.Json;
using Microsoft.Extensions.Options;
using Polly.CircuitBreaker;
using Polly.RateLimiting;
using Polly.Timeout;

namespace Firedrill.Shop.Features.Inventory;

/// <summary>
/// The typed client for the inventory service. Its resilience pipeline (timeouts, retries,
/// breaker, bulkhead) is in <see cref="InventoryClientExtensions"/>; here, failures become one
/// exception type, or the "unknown" fallback where a degraded answer is acceptable.
/// </summary>
internal sealed partial class InventoryClient(HttpClient http, IOptionsMonitor<InventoryClientOptions> options, Observability.ShopMetrics metrics, ILogger<InventoryClient> logger)
{
    public async Task<Availability> GetAvailabilityAsync(long productId, string sku, CancellationToken cancellationToken)
    {
        try
        {
            using var response = await http.GetAsync($"/inventory/{Uri.EscapeDataString(sku)}", cancellationToken);
            if (response.StatusCode == HttpStatusCode.NotFound)
            {
                return new Availability(productId, sku, 0, Availability.Known);
            }

            response.EnsureSuccessStatusCode();
            var level = await response.Content.ReadFromJsonAsync<InventoryLevel>(cancellationToken)
                ?? throw new InventoryUnavailableException("Inventory answered an empty body.");
            return new Availability(productId, sku, level.Available, Availability.Known);
        }
        catch (Exception ex) when (IsDependencyFailure(ex, cancellationToken))
        {
            if (!options.CurrentValue.FallbackEnabled)
            {
                throw new InventoryUnavailableException($"Inventory did not answer for {sku}: {ex.Message}", ex);
            }

            LogFallback(sku, Reason(ex));
            LogFailureDetail(ex);
            metrics.InventoryFallback(ex.GetType().Name);
            return new Availability(productId, sku, null, Availability.Unknown);
        }
    }

    /// <summary>
    /// Reserves stock for an order. Safe to retry: the inventory service is idempotent on the
    /// order reference, so a retried reservation never takes stock twice.
    /// </summary>
    public async Task<ReservationResult> ReserveAsync(string orderRef, IReadOnlyList<ReservationLine> lines, CancellationToken cancellationToken)
    {
        try
        {
            using var response = await http.PostAsJsonAsync("/inventory/reservations", new ReservationRequest(orderRef, lines), cancellationToken);
            return response.StatusCode switch
            {
                HttpStatusCode.Created or HttpStatusCode.OK => ReservationResult.Reserved,
                HttpStatusCode.Conflict => ReservationResult.InsufficientStock,
                HttpStatusCode.NotFound => ReservationResult.UnknownSku,
                _ => throw new InventoryUnavailableException($"Inventory answered {(int)response.StatusCode} to a reservation."),
            };
        }
        catch (Exception ex) when (IsDependencyFailure(ex, cancellationToken))
        {
            LogReservationFailed(orderRef, Reason(ex));
            LogFailureDetail(ex);
            throw new InventoryUnavailableException($"Inventory did not answer the reservation: {ex.Message}", ex);
        }
    }

    /// <summary>
    /// The random-500s incident's broken path (unhandled-downstream), beside <see cref="ReserveAsync"/>:
    /// the same call without its error handling. An inventory 503 (or a timeout) escapes as
    /// HttpRequestException or a Polly exception, which nothing in the order path expects: a 500
    /// for the customer, now and then. Selected by <c>Orders:UnguardedReservation=true</c>.
    /// </summary>
    public async Task<ReservationResult> ReserveUnguardedAsync(string orderRef, IReadOnlyList<ReservationLine> lines, CancellationToken cancellationToken)
    {
        using var response = await http.PostAsJsonAsync("/inventory/reservations", new ReservationRequest(orderRef, lines), cancellationToken);
        if (response.StatusCode is HttpStatusCode.Conflict or HttpStatusCode.NotFound)
        {
            return response.StatusCode == HttpStatusCode.Conflict ? ReservationResult.InsufficientStock : ReservationResult.UnknownSku;
        }

        response.EnsureSuccessStatusCode();
        return ReservationResult.Reserved;
    }

    /// <summary>
    /// Sends a window's reconciliation: inventory re-counts the products it names. Not idempotent on
    /// its side, which is why the job must send it once per window.
    /// </summary>
    public async Task SyncAsync(DateTime window, string replica, int checkedProducts, int differ, CancellationToken cancellationToken)
    {
        try
        {
            using var response = await http.PostAsJsonAsync("/inventory/sync", new SyncRequest(window, replica, checkedProducts, differ), cancellationToken);
            response.EnsureSuccessStatusCode();
        }
        catch (Exception ex) when (IsDependencyFailure(ex, cancellationToken))
        {
            throw new InventoryUnavailableException($"Inventory did not take the reconciliation of {window:O}: {ex.Message}", ex);
        }
    }

    /// <summary>Gives a reservation back (the order was not placed after all). Best effort: logged, never thrown.</summary>
    public async Task ReleaseAsync(string orderRef)
    {
        try
        {
            using var response = await http.DeleteAsync($"/inventory/reservations/{Uri.EscapeDataString(orderRef)}");
        }
        catch (Exception ex) when (IsDependencyFailure(ex, CancellationToken.None))
        {
            LogReleaseFailed(orderRef, ex);
        }
    }

    private static bool IsDependencyFailure(Exception exception, CancellationToken cancellationToken) =>
        exception is HttpRequestException or TimeoutRejectedException or BrokenCircuitException or RateLimiterRejectedException
            or System.Text.Json.JsonException
        || (exception is OperationCanceledException && !cancellationToken.IsCancellationRequested);

    /// <summary>What failed, in a line: the exception's type and message, never its stack.</summary>
    private static string Reason(Exception exception) => $"{exception.GetType().Name}: {exception.Message}";

    [LoggerMessage(EventId = 4001, Level = LogLevel.Warning, Message = "Inventory failed for {Sku} ({Failure}); answering availability unknown")]
    private partial void LogFallback(string sku, string failure);

    [LoggerMessage(EventId = 4003, Level = LogLevel.Warning, Message = "Inventory did not answer the reservation for {OrderRef} ({Failure})")]
    private partial void LogReservationFailed(string orderRef, string failure);

    [LoggerMessage(EventId = 4004, Level = LogLevel.Debug, Message = "The inventory call's failure, in full")]
    private partial void LogFailureDetail(Exception exception);

    [LoggerMessage(EventId = 4002, Level = LogLevel.Warning, Message = "Could not release inventory reservation {OrderRef}")]
    private partial void LogReleaseFailed(string orderRef, Exception exception);
}
