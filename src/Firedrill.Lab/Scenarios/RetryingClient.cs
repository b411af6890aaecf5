using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;

namespace Firedrill.Lab.Scenarios;

/// <summary>How a client retries: attempts in all, and the pause before each retry (doubling, with jitter when asked).</summary>
internal sealed record ClientRetryPolicy(int MaxAttempts, TimeSpan Backoff, bool Jitter)
{
    /// <summary>What many real clients do: try again at once, a fixed number of times.</summary>
    public static ClientRetryPolicy Immediate(int attempts) => new(attempts, TimeSpan.Zero, Jitter: false);

    public TimeSpan DelayBefore(int retry) => Backoff <= TimeSpan.Zero
        ? TimeSpan.Zero
        : Backoff * Math.Pow(2, retry - 1) * (Jitter ? 0.5 + Random.Shared.NextDouble() : 1);
}

/// <summary>One kind of user operation: its name, its share, the request it sends, and whether an answer is a good one.</summary>
internal sealed record ClientOperation(string Name, int Weight, Func<long, HttpRequestMessage> Create, Func<HttpStatusCode, string, bool> IsGood);

/// <summary>A user operation's story: when it began, how many attempts it took, whether it ended well.</summary>
internal sealed record OperationRecord(string Name, double StartedSeconds, double EndedSeconds, int Attempts, bool Good);

/// <summary>
/// Users sending operations at a steady rate through a client that retries — unlike the lab's load
/// generator, which never does — because in these incidents the client's retries are part of the
/// load a struggling dependency receives. Each attempt is recorded like the generator's requests
/// (<see cref="AttemptRecorder"/>), each operation's outcome for the lab's own counts.
/// </summary>
internal sealed class RetryingClient(HttpClient client, TimeSpan attemptTimeout, IReadOnlyList<ClientOperation> operations)
{
    private readonly long _start = Stopwatch.GetTimestamp();
    private readonly ConcurrentBag<OperationRecord> _records = [];
    private readonly ConcurrentQueue<double> _starts = new();
    private readonly AttemptRecorder _attempts = new(operations.Select(operation => operation.Name).ToArray());
    private long _sent;

    /// <summary>Seconds since the client was created: the time line every record uses.</summary>
    public double Now => Stopwatch.GetElapsedTime(_start).TotalSeconds;

    public IReadOnlyList<OperationRecord> Records => [.. _records];

    /// <summary>Operations begun in [<paramref name="from"/>, <paramref name="to"/>), ended or not.</summary>
    public int StartedBetween(double from, double to) => _starts.Count(start => start >= from && start < to);

    public Load.LoadResult Attempts => _attempts.ToResult();

    /// <summary>Starts <paramref name="rate"/> operations a second until <paramref name="stop"/>, each retried by <paramref name="policy"/>; waits for the last to end.</summary>
    public async Task RunAsync(double rate, ClientRetryPolicy policy, TimeProvider time, CancellationToken stop)
    {
        var inFlight = new List<Task>();
        var weights = operations.SelectMany((operation, index) => Enumerable.Repeat(index, operation.Weight)).ToArray();
        var gap = TimeSpan.FromSeconds(1 / rate);
        var next = Stopwatch.GetElapsedTime(_start);
        while (!stop.IsCancellationRequested)
        {
            var sequence = _sent++;
            inFlight.Add(OperateAsync(operations[weights[sequence % weights.Length]], sequence, policy));
            next += gap;
            var wait = next - Stopwatch.GetElapsedTime(_start);
            if (wait > TimeSpan.Zero)
            {
                await Task.Delay(wait, time, stop).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }

        await Task.WhenAll(inFlight);
    }

    private async Task OperateAsync(ClientOperation operation, long sequence, ClientRetryPolicy policy)
    {
        var started = Now;
        _starts.Enqueue(started);
        var good = false;
        var attempt = 0;
        while (attempt < policy.MaxAttempts && !good)
        {
            if (attempt > 0)
            {
                await Task.Delay(policy.DelayBefore(attempt));
            }

            attempt++;
            var (retryable, ok) = await AttemptAsync(operation, sequence);
            good = ok;
            if (!retryable)
            {
                break;
            }
        }

        _records.Add(new OperationRecord(operation.Name, started, Now, attempt, good));
    }

    /// <returns>Whether a client would retry the answer (a timeout, a refused connection, a 5xx), and whether it was good.</returns>
    private async Task<(bool Retryable, bool Good)> AttemptAsync(ClientOperation operation, long sequence)
    {
        var began = Stopwatch.GetTimestamp();
        using var timeout = new CancellationTokenSource(attemptTimeout);
        try
        {
            using var request = operation.Create(sequence);
            using var response = await client.SendAsync(request, timeout.Token);
            var body = await response.Content.ReadAsStringAsync(timeout.Token);
            var status = (int)response.StatusCode;
            var good = operation.IsGood(response.StatusCode, body);
            _attempts.Record(operation.Name, began, status.ToString(CultureInfo.InvariantCulture), error: !good);
            return (status >= 500, good);
        }
        catch (OperationCanceledException)
        {
            _attempts.Record(operation.Name, began, Load.LoadOutcomes.Timeout, error: true);
            return (true, false);
        }
        catch (HttpRequestException ex)
        {
            _attempts.Record(operation.Name, began, ex.GetType().Name, error: true);
            return (true, false);
        }
    }
}
