using System.Net;
using System.Text.Json;

namespace Firedrill.Lab.Scenarios;

/// <summary>
/// A real failed response caught by the lab, as a user would catch one: its status, its problem
/// details and the trace id they carry — the way into <c>firedrill trace</c>.
/// </summary>
public sealed record FailedResponse(HttpStatusCode Status, string Path, string Body, string TraceId)
{
    /// <summary>
    /// Sends requests until one fails (at most <paramref name="attempts"/>, a few at a time) and
    /// returns the first failure whose problem details carry a trace id; null if none failed.
    /// </summary>
    /// <param name="spacing">
    /// A pause after each answer that did not fail, so the attempts cover a stretch of time (a symptom
    /// that builds up, such as leaked connections, may start failing requests only later in the phase).
    /// </param>
    public static async Task<FailedResponse?> CatchAsync(HttpClient client, Func<long, HttpRequestMessage> create, Func<HttpStatusCode, bool> isFailure,
        int attempts, CancellationToken cancellationToken, int parallel = 4, TimeSpan spacing = default, TimeProvider? time = null)
    {
        FailedResponse? caught = null;
        using var found = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var next = -1L;
        await Task.WhenAll(Enumerable.Range(0, parallel).Select(async _ =>
        {
            while (!found.IsCancellationRequested && Interlocked.Increment(ref next) < attempts)
            {
                using var request = create(next);
                try
                {
                    using var response = await client.SendAsync(request, found.Token);
                    if (!isFailure(response.StatusCode))
                    {
                        if (spacing > TimeSpan.Zero)
                        {
                            await Task.Delay(spacing, time ?? TimeProvider.System, found.Token);
                        }

                        continue;
                    }

                    var body = await response.Content.ReadAsStringAsync(found.Token);
                    if (TraceIdOf(body) is { } traceId)
                    {
                        Interlocked.CompareExchange(ref caught, new FailedResponse(response.StatusCode, request.RequestUri!.ToString(), body, traceId), null);
                        await found.CancelAsync();
                    }
                }
                catch (OperationCanceledException) when (found.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
                {
                    return;
                }
                catch (HttpRequestException)
                {
                    // Not an answer: nothing to follow.
                }
            }
        }));
        cancellationToken.ThrowIfCancellationRequested();
        return caught;
    }

    private static string? TraceIdOf(string body)
    {
        try
        {
            using var json = JsonDocument.Parse(body);
            return json.RootElement.TryGetProperty("traceId", out var id) && id.GetString() is { Length: 32 } traceId ? traceId : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
