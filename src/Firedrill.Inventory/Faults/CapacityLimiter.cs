using System.Threading.RateLimiting;
using Firedrill.Inventory.Observability;
using Microsoft.Extensions.Options;

namespace Firedrill.Inventory.Faults;

/// <summary>
/// The service's capacity: at most <see cref="InventoryOptions.MaxConcurrentRequests"/> requests
/// are served at once and the rest queue, as in a saturated real service, so throughput is
/// capacity / latency. The limiter is rebuilt when the lab changes the limit.
/// </summary>
internal sealed partial class CapacityLimiter(
    IOptionsMonitor<InventoryOptions> options, InventoryMetrics metrics, ILogger<CapacityLimiter> logger) : IDisposable
{
    private readonly Lock _gate = new();
    private Generation _current = new(null, -1, -1);

    /// <summary>A lease to hold while the request is served; not acquired when the queue is full.</summary>
    public async ValueTask<RateLimitLease> AcquireAsync(CancellationToken cancellationToken)
    {
        var limiter = Current();
        if (limiter is null)
        {
            return new InFlightLease(null, metrics);
        }

        // Only requests that really wait count as queued; with the oldest-first order an attempt
        // fails while others are queued, so it never jumps the queue.
        var lease = limiter.AttemptAcquire();
        if (!lease.IsAcquired)
        {
            lease.Dispose();
            metrics.Queued(1);
            try
            {
                lease = await limiter.AcquireAsync(1, cancellationToken);
            }
            finally
            {
                metrics.Queued(-1);
            }
        }

        return lease.IsAcquired ? new InFlightLease(lease, metrics) : lease;
    }

    private ConcurrencyLimiter? Current()
    {
        var settings = options.CurrentValue;
        var current = Volatile.Read(ref _current);
        if (current.Matches(settings))
        {
            return current.Limiter;
        }

        lock (_gate)
        {
            if (!_current.Matches(settings))
            {
                // The previous limiter is not disposed: that would fail the requests queued on it.
                // Requests holding or awaiting its permits finish on it, then nothing refers to it.
                var limiter = settings.MaxConcurrentRequests > 0
                    ? new ConcurrencyLimiter(new ConcurrencyLimiterOptions
                    {
                        PermitLimit = settings.MaxConcurrentRequests,
                        QueueLimit = settings.QueueLimit,
                        QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
                    })
                    : null;
                Volatile.Write(ref _current, new Generation(limiter, settings.MaxConcurrentRequests, settings.QueueLimit));
                LogCapacityChanged(settings.MaxConcurrentRequests, settings.QueueLimit);
            }

            return _current.Limiter;
        }
    }

    public void Dispose() => _current.Limiter?.Dispose();

    [LoggerMessage(EventId = 3001, Level = LogLevel.Information,
        Message = "Inventory capacity set to {MaxConcurrentRequests} concurrent requests (0: unlimited), queue limit {QueueLimit}")]
    private partial void LogCapacityChanged(int maxConcurrentRequests, int queueLimit);

    private sealed record Generation(ConcurrencyLimiter? Limiter, int Permits, int QueueLimit)
    {
        public bool Matches(InventoryOptions settings) =>
            Permits == settings.MaxConcurrentRequests && (Permits == 0 || QueueLimit == settings.QueueLimit);
    }

    /// <summary>Counts the request as in flight until the pipeline disposes the lease.</summary>
    private sealed class InFlightLease : RateLimitLease
    {
        private readonly RateLimitLease? _inner;
        private readonly InventoryMetrics _metrics;
        private int _disposed;

        public InFlightLease(RateLimitLease? inner, InventoryMetrics metrics)
        {
            _inner = inner;
            _metrics = metrics;
            metrics.InFlight(1);
        }

        public override bool IsAcquired => true;

        public override IEnumerable<string> MetadataNames => _inner?.MetadataNames ?? [];

        public override bool TryGetMetadata(string metadataName, out object? metadata)
        {
            metadata = null;
            return _inner?.TryGetMetadata(metadataName, out metadata) ?? false;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing && Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                _inner?.Dispose();
                _metrics.InFlight(-1);
            }

            base.Dispose(disposing);
        }
    }
}
