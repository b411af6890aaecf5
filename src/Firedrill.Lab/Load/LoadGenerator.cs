namespace Firedrill.Lab.Load;

/// <summary>
/// Drives HTTP load at a loopback service and measures it from the client's side. No retries,
/// ever: a retry would hide the failure the lab is there to show. Each request has an explicit
/// timeout and counts as <c>timeout</c> when it exceeds it.
/// </summary>
public sealed partial class LoadGenerator
{
    /// <summary>How long past its timeout a straggler may take before the run stops waiting for it.</summary>
    private static readonly TimeSpan DrainGrace = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan ProgressEvery = TimeSpan.FromSeconds(1);
    private static readonly string[] StatusTexts = Enumerable.Range(0, 1000).Select(code => code.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray();

    private readonly HttpMessageInvoker _invoker;
    private readonly Uri _baseAddress;
    private readonly TimeProvider _time;

    /// <summary>Sends through <paramref name="client"/>, whose <see cref="HttpClient.BaseAddress"/> must be loopback.</summary>
    public LoadGenerator(HttpClient client, TimeProvider timeProvider)
        : this(client, client?.BaseAddress!, timeProvider)
    {
    }

    /// <summary>Sends through any invoker; relative request URIs resolve against <paramref name="baseAddress"/>, which must be loopback.</summary>
    public LoadGenerator(HttpMessageInvoker invoker, Uri baseAddress, TimeProvider timeProvider)
    {
        ArgumentNullException.ThrowIfNull(invoker);
        ArgumentNullException.ThrowIfNull(timeProvider);
        Loopback.Ensure(baseAddress, nameof(baseAddress));
        _invoker = invoker;
        _baseAddress = baseAddress;
        _time = timeProvider;
    }

    /// <summary>
    /// Offers the profile's load until its duration or request count is reached, waits for the
    /// requests still in flight (each bounded by its timeout), and returns what was measured.
    /// </summary>
    public async Task<LoadResult> RunAsync(LoadProfile profile, IProgress<LoadProgress>? progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(profile);
        profile.Validate();
        cancellationToken.ThrowIfCancellationRequested();

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var run = new LoadRun(profile, _time.GetTimestamp(), _time, stop.Token);
        var timer = progress is null ? null : _time.CreateTimer(_ => progress.Report(run.Progress(_time)), null, ProgressEvery, ProgressEvery);
        try
        {
            var (elapsed, window) = profile.Model == LoadModel.Open
                ? await RunOpenAsync(run, stop, cancellationToken)
                : await RunClosedAsync(run, stop, cancellationToken);
            cancellationToken.ThrowIfCancellationRequested();
            var result = run.Recorder.Snapshot(elapsed, (int)Math.Ceiling(window.TotalSeconds - 1e-9));
            if (timer is not null)
            {
                await timer.DisposeAsync();
                progress!.Report(run.Progress(_time));
            }

            return result;
        }
        catch
        {
            // Whatever is still in flight stops now and records nothing.
            await stop.CancelAsync();
            throw;
        }
        finally
        {
            if (timer is not null)
            {
                await timer.DisposeAsync();
            }
        }
    }

    /// <summary>N virtual users, each sending, awaiting the answer and sending again.</summary>
    private async Task<(TimeSpan Elapsed, TimeSpan Window)> RunClosedAsync(LoadRun run, CancellationTokenSource stop, CancellationToken cancellationToken)
    {
        var profile = run.Profile;
        var users = Enumerable.Range(0, profile.Concurrency).Select(_ => UserAsync(run, stop)).ToArray();
        await WaitBoundedAsync(run, Task.WhenAll(users), profile.Duration + profile.RequestTimeout + DrainGrace, stop, cancellationToken);
        var elapsed = _time.GetElapsedTime(run.Start);
        return (elapsed, elapsed < profile.Duration ? elapsed : profile.Duration);
    }

    private async Task UserAsync(LoadRun run, CancellationTokenSource stop)
    {
        // Off the caller's stack at once, so all users start together.
        await Task.Yield();
        try
        {
            for (long sent = 0; !run.Token.IsCancellationRequested; sent++)
            {
                if (run.Profile.Pacing is { } pacing && pacing * sent - _time.GetElapsedTime(run.Start) is { Ticks: > 0 } wait)
                {
                    if (pacing * sent >= run.Profile.Duration)
                    {
                        return;
                    }

                    await Task.Delay(wait, _time, run.Token);
                }

                if (_time.GetElapsedTime(run.Start) >= run.Profile.Duration || !run.TryClaim(out var sequence))
                {
                    return;
                }

                var endpoint = run.Mix.Pick(sequence);
                var request = CreateRequest(run, endpoint, sequence);

                // No schedule to fall behind in a closed model: latency counts from the actual send,
                // which is exactly why this model hides a stalled server (coordinated omission).
                var pending = run.Begin(endpoint, _time.GetTimestamp());
                try
                {
                    await SendAsync(run, pending, request);
                }
                finally
                {
                    run.Release();
                }
            }
        }
        catch
        {
            // A broken template: stop the other users now rather than at the end of the run.
            await stop.CancelAsync();
            throw;
        }
    }

    /// <summary>Sends one request and records it; never throws (the run's own cancellation records nothing).</summary>
    private async Task SendAsync(LoadRun run, PendingRequest pending, HttpRequestMessage request)
    {
        string outcome;
        bool error;
        long end;
        using (request)
        using (var timeout = new CancellationTokenSource(run.Profile.RequestTimeout, _time))
        using (run.Token.UnsafeRegister(static state => ((CancellationTokenSource)state!).Cancel(), timeout))
        {
            try
            {
                using var response = _invoker is HttpClient client
                    ? await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token)
                    : await _invoker.SendAsync(request, timeout.Token);

                // The body is part of the answer: a server that stalls mid-body is slow, not fast.
                await response.Content.CopyToAsync(Stream.Null, timeout.Token);
                var status = (int)response.StatusCode;
                outcome = status is >= 0 and < 1000 ? StatusTexts[status] : status.ToString(System.Globalization.CultureInfo.InvariantCulture);
                error = run.Profile.IsError(status);
            }
            catch (Exception) when (run.Token.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (timeout.IsCancellationRequested || ex is OperationCanceledException)
            {
                // Our timeout, or the caller's HttpClient.Timeout: either way the answer came too late,
                // and whatever arrives after this is ignored.
                outcome = LoadOutcomes.Timeout;
                error = true;
            }
            catch (Exception ex)
            {
                outcome = ex.GetType().Name;
                error = true;
            }

            end = _time.GetTimestamp();
        }

        run.Complete(pending, end, outcome, error);
    }

    private HttpRequestMessage CreateRequest(LoadRun run, int endpoint, long sequence)
    {
        var template = run.Profile.Mix[endpoint];
        var request = template.Create(sequence)
            ?? throw new InvalidOperationException($"Request template '{template.Name}' returned no request.");
        var uri = request.RequestUri;
        request.RequestUri = uri is null ? _baseAddress : uri.IsAbsoluteUri ? uri : new Uri(_baseAddress, uri);
        if (!Loopback.IsLoopback(request.RequestUri))
        {
            request.Dispose();
            throw new ArgumentException(
                $"Request template '{template.Name}' targets '{request.RequestUri.Host}'; the load generator only targets loopback.");
        }

        return request;
    }

    /// <summary>Waits for <paramref name="work"/>, but not past <paramref name="bound"/>: after it the stragglers are abandoned.</summary>
    private async Task WaitBoundedAsync(LoadRun run, Task work, TimeSpan bound, CancellationTokenSource stop, CancellationToken cancellationToken)
    {
        try
        {
            await work.WaitAsync(bound, _time, cancellationToken);
        }
        catch (TimeoutException)
        {
            run.Abandon(_time.GetTimestamp());
            await stop.CancelAsync();
        }
    }
}
