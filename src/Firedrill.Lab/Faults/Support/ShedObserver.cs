using System.Diagnostics;
using System.Globalization;
using Firedrill.Lab.Load;

namespace Firedrill.Lab.Faults.Support;

/// <summary>
/// Sits under the load generator's client and records every answer on the fault's clock, told
/// apart the way a client tells them apart: admitted (any answer of the service), shed (503, or the
/// gateway's 429, with Retry-After: come back later), or failed (any other 5xx, a timeout, a broken connection).
/// </summary>
internal sealed class ShedObserver(FaultClock clock) : DelegatingHandler(new SocketsHttpHandler
{
    MaxConnectionsPerServer = int.MaxValue,
    PooledConnectionLifetime = TimeSpan.FromMinutes(5),
    UseProxy = false,
    AllowAutoRedirect = false,
    UseCookies = false,
})
{
    public const string Admitted = "admitted";
    public const string Shed = "shed";

    private long _shedWithoutRetryAfter;

    /// <summary>503s and 429s that did not say when to come back: shedding a client cannot act on.</summary>
    public long ShedWithoutRetryAfter => Interlocked.Read(ref _shedWithoutRetryAfter);

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        try
        {
            var response = await base.SendAsync(request, cancellationToken);
            var status = (int)response.StatusCode;
            var text = status.ToString(CultureInfo.InvariantCulture);
            if (status is 503 or 429)
            {
                var retryAfter = response.Headers.RetryAfter is not null;
                if (!retryAfter)
                {
                    Interlocked.Increment(ref _shedWithoutRetryAfter);
                }

                clock.Record(Shed, started, text, error: !retryAfter);
            }
            else
            {
                clock.Record(Admitted, started, text, error: status >= 500);
            }

            return response;
        }
        catch (OperationCanceledException)
        {
            clock.Record(Admitted, started, LoadOutcomes.Timeout, error: true);
            throw;
        }
        catch (HttpRequestException ex)
        {
            clock.Record(Admitted, started, ex.HttpRequestError.ToString(), error: true);
            throw;
        }
    }
}
