using System.Diagnostics.Metrics;
using System.Globalization;
using System.Threading.RateLimiting;
using Firedrill.ServiceDefaults.Options;
using Firedrill.Shop.Observability;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;

namespace Firedrill.Shop.Http;

/// <summary>
/// Sheds load early, before any work: a request enters if fewer than
/// <see cref="AdmissionOptions.MaxConcurrentRequests"/> are being served, waits (oldest first) for
/// at most <see cref="AdmissionOptions.MaxQueueTime"/> in a queue of
/// <see cref="AdmissionOptions.QueueLimit"/>, and otherwise gets 503 with Retry-After and a problem
/// document. A request that leaves while it waits is dropped unstarted; an admitted write is
/// finished even if its caller leaves (<see cref="AdmissionOptions.CancelWritesOnClientAbort"/>).
/// Health, metrics and the lab's control are never shed. The limiter is rebuilt when
/// the options change; requests on the old one finish on it.
/// </summary>
internal sealed partial class AdmissionControl
{
    private readonly RequestDelegate _next;
    private readonly IOptionsMonitor<AdmissionOptions> _options;
    private readonly IProblemDetailsService _problems;
    private readonly ILogger<AdmissionControl> _logger;
    private readonly Counter<long> _decisions;
    private readonly UpDownCounter<long> _inFlight;
    private readonly Lock _gate = new();
    private (ConcurrencyLimiter Limiter, int Permits, int Queue)? _current;

    public AdmissionControl(RequestDelegate next, IOptionsMonitor<AdmissionOptions> options, IProblemDetailsService problems, IMeterFactory meters,
        ILogger<AdmissionControl> logger)
    {
        (_next, _options, _problems, _logger) = (next, options, problems, logger);
        var meter = meters.Create(ShopMetrics.MeterName);
        _decisions = meter.CreateCounter<long>("firedrill.admission.requests", "{request}", "Requests by admission decision: admitted at once, admitted after waiting, or shed.");
        _inFlight = meter.CreateUpDownCounter<long>("firedrill.admission.in_flight", "{request}", "Requests admitted and being served.");
    }

    public async Task InvokeAsync(HttpContext context)
    {
        var settings = _options.CurrentValue;
        if (!settings.Enabled || IsOperational(context.Request.Path))
        {
            await _next(context);
            return;
        }

        var limiter = Limiter(settings);
        var outcome = "admitted";
        var lease = limiter.AttemptAcquire();
        if (!lease.IsAcquired && settings.QueueLimit > 0 && settings.MaxQueueTime > TimeSpan.Zero)
        {
            lease.Dispose();
            using var wait = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
            wait.CancelAfter(settings.MaxQueueTime);
            outcome = "queued";
            try
            {
                lease = await limiter.AcquireAsync(1, wait.Token);
            }
            catch (OperationCanceledException) when (!context.RequestAborted.IsCancellationRequested)
            {
                lease = new RefusedLease();
            }
        }

        using (lease)
        {
            if (!lease.IsAcquired)
            {
                _decisions.Add(1, new KeyValuePair<string, object?>("outcome", "shed"));
                await ShedAsync(context, settings);
                return;
            }

            _decisions.Add(1, new KeyValuePair<string, object?>("outcome", outcome));
            if (!settings.CancelWritesOnClientAbort && !IsRead(context.Request.Method))
            {
                // An admitted write runs to its end: see AdmissionOptions.CancelWritesOnClientAbort.
                context.RequestAborted = CancellationToken.None;
            }

            _inFlight.Add(1);
            try
            {
                await _next(context);
            }
            finally
            {
                _inFlight.Add(-1);
            }
        }
    }

    private async Task ShedAsync(HttpContext context, AdmissionOptions settings)
    {
        LogShed(context.Request.Path);
        context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
        context.Response.Headers.RetryAfter = settings.RetryAfterSeconds.ToString(CultureInfo.InvariantCulture);
        await _problems.WriteAsync(new ProblemDetailsContext
        {
            HttpContext = context,
            ProblemDetails = new ProblemDetails
            {
                Status = StatusCodes.Status503ServiceUnavailable,
                Title = "Server busy",
                Detail = string.Create(CultureInfo.InvariantCulture,
                    $"This replica is at capacity and did not start the request; retry after {settings.RetryAfterSeconds} s."),
            },
        });
    }

    private ConcurrencyLimiter Limiter(AdmissionOptions settings)
    {
        var current = _current;
        if (current is { } known && known.Permits == settings.MaxConcurrentRequests && known.Queue == settings.QueueLimit)
        {
            return known.Limiter;
        }

        lock (_gate)
        {
            if (_current is not { } now || now.Permits != settings.MaxConcurrentRequests || now.Queue != settings.QueueLimit)
            {
                // The old limiter is not disposed: that would fail the requests waiting on it.
                _current = (new ConcurrencyLimiter(new ConcurrencyLimiterOptions
                {
                    PermitLimit = settings.MaxConcurrentRequests,
                    QueueLimit = settings.QueueLimit,
                    QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
                }), settings.MaxConcurrentRequests, settings.QueueLimit);
            }

            return _current.Value.Limiter;
        }
    }

    private static bool IsRead(string method) => HttpMethods.IsGet(method) || HttpMethods.IsHead(method) || HttpMethods.IsOptions(method);

    /// <summary>Health, metrics, the lab's control and the API description answer whatever the load.</summary>
    private static bool IsOperational(PathString path) =>
        path.StartsWithSegments("/health") || path.StartsWithSegments("/metrics") || path.StartsWithSegments("/_lab") || path.StartsWithSegments("/openapi");

    [LoggerMessage(EventId = 7001, Level = LogLevel.Debug, Message = "Shed {Path}: at capacity")]
    private partial void LogShed(string path);

    private sealed class RefusedLease : RateLimitLease
    {
        public override bool IsAcquired => false;

        public override IEnumerable<string> MetadataNames => [];

        public override bool TryGetMetadata(string metadataName, out object? metadata)
        {
            metadata = null;
            return false;
        }
    }
}

internal static class AdmissionControlExtensions
{
    public static IHostApplicationBuilder AddAdmissionControl(this IHostApplicationBuilder builder)
    {
        builder.Services.AddRuntimeOptions<AdmissionOptions, AdmissionOptionsValidator>(AdmissionOptions.SectionName);
        return builder;
    }

    /// <summary>Before the endpoints (and before the shared in-flight limit), so a shed request costs almost nothing.</summary>
    public static WebApplication UseAdmissionControl(this WebApplication app)
    {
        app.UseMiddleware<AdmissionControl>();
        return app;
    }
}
