using System.Collections.Concurrent;
using System.Diagnostics;
using Firedrill.Lab.Load;

namespace Firedrill.Lab.Tests.Load;

/// <summary>
/// The generator against a local server of known behaviour. One collection, so runs never share
/// the 2 cores with each other; margins are wide because the server shares them too.
/// </summary>
[Collection(LoadServerGroup.Name)]
public sealed class LoadGeneratorTests(LoadTestServer server)
{
    private static readonly TimeSpan TestBound = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task RunAsync_OpenModelAt200PerSecondFor3Seconds_SendsSixHundredAtThatRate()
    {
        var result = await RunAsync(Open(200, TimeSpan.FromSeconds(3), Get("fast", "/fast")));

        Assert.InRange(result.Requests, 540, 660);
        Assert.InRange(result.Total.Rps(result.Elapsed), 170, 230);
        Assert.Equal(result.Requests, result.Total.Outcomes["200"]);
        Assert.Equal(0, result.Total.Errors);
    }

    [Fact]
    public async Task RunAsync_SlowEndpoint_RecordsItsLatency()
    {
        var result = await RunAsync(Open(20, TimeSpan.FromSeconds(1.5), Get("slow", "/slow?ms=100")));

        Assert.InRange(result.Total.P50Ms, 95, 400);
        Assert.True(result.Total.MaxMs >= result.Total.P99Ms && result.Total.P99Ms >= result.Total.P50Ms);
        Assert.Equal(result.Total.P50Ms, result.Endpoints["slow"].P50Ms);
    }

    [Fact]
    public async Task RunAsync_OpenModelOnStalledServer_LatencyShowsTheStall()
    {
        var profile = Open(100, TimeSpan.FromSeconds(3), Get("gated", "/gated?ms=5"));

        var result = await RunWithStallAsync(profile);

        // Arrivals kept coming during the stall, and each waited from its intended send time.
        Assert.True(server.ArrivedWhileClosed >= 50, $"arrived during stall: {server.ArrivedWhileClosed}");
        Assert.True(result.Total.P99Ms >= 500, $"p99 {result.Total.P99Ms} ms");
        Assert.InRange(result.Requests, 270, 330);
    }

    [Fact]
    public async Task RunAsync_ClosedModelOnStalledServer_SendsFarFewerDuringTheStall()
    {
        var profile = new LoadProfile
        {
            Model = LoadModel.Closed,
            Concurrency = 2,
            Duration = TimeSpan.FromSeconds(3),
            Mix = [Get("gated", "/gated?ms=5")],
        };

        var result = await RunWithStallAsync(profile);

        // Each user is stuck in one request: the stall is one slow sample per user, which a
        // closed model's percentiles all but hide (coordinated omission).
        Assert.InRange(server.ArrivedWhileClosed, 0, 2);
        Assert.True(result.Total.P99Ms < 500, $"p99 {result.Total.P99Ms} ms");
        Assert.True(result.Total.MaxMs >= 500, $"max {result.Total.MaxMs} ms");
    }

    [Fact]
    public async Task RunAsync_StallBeyondTimeout_CountsEveryRequestAsTimeoutAtTheTimeout()
    {
        var profile = Open(20, TimeSpan.FromSeconds(1), Get("stall", "/stall")) with { RequestTimeout = TimeSpan.FromMilliseconds(300) };
        var clock = Stopwatch.StartNew();

        var result = await RunAsync(profile);

        // The stall never ends on its own: without the timeout the run would never return, and
        // each latency would be the run's end rather than the timeout. The upper bounds are loose
        // on purpose (a busy machine delays the timer); the timing itself belongs in bench/.
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(1 + 0.3 + 4), $"returned after {clock.Elapsed}");
        Assert.InRange(result.Requests, 18, 22);
        Assert.Equal(result.Requests, result.Total.Outcomes[LoadOutcomes.Timeout]);
        Assert.Equal(1, result.Total.ErrorRate);
        Assert.InRange(result.Total.P50Ms, 290, 2_000);
        Assert.InRange(result.Total.MaxMs, 290, 3_000);
    }

    [Fact]
    public async Task RunAsync_ServiceUnavailable_CountsEveryRequestAsErrorByStatus()
    {
        var result = await RunAsync(Closed(2, maxRequests: 50, Get("error", "/error")));

        Assert.Equal(50, result.Requests);
        Assert.Equal(result.Requests, result.Total.Outcomes["503"]);
        Assert.Equal(1, result.Total.ErrorRate);
    }

    [Fact]
    public async Task RunAsync_NotFound_IsNotAnErrorByDefault()
    {
        var result = await RunAsync(Closed(2, maxRequests: 50, Get("missing", "/missing")));

        Assert.Equal(50, result.Total.Outcomes["404"]);
        Assert.Equal(0, result.Total.Errors);
    }

    [Fact]
    public async Task RunAsync_CustomIsError_CountsWhatItSays()
    {
        var profile = Closed(2, maxRequests: 50, Get("missing", "/missing")) with { IsError = status => status >= 400 };

        var result = await RunAsync(profile);

        Assert.Equal(50, result.Total.Errors);
    }

    [Fact]
    public async Task RunAsync_ClosedModelWithPacing_SendsOneRequestPerUserPerPacing()
    {
        var profile = new LoadProfile
        {
            Model = LoadModel.Closed,
            Concurrency = 4,
            Pacing = TimeSpan.FromMilliseconds(100),
            Duration = TimeSpan.FromSeconds(1),
            Mix = [Get("fast", "/fast")],
        };

        var result = await RunAsync(profile);

        // At most ten rounds of four, against a server that answers hundreds a second unpaced (a busy
        // machine may fit fewer rounds in the second; never more).
        Assert.InRange(result.Requests, 4, 40);
    }

    [Fact]
    public async Task RunAsync_WeightedMixThreeToOne_SplitsCountsThreeToOne()
    {
        var result = await RunAsync(Closed(4, maxRequests: 800, Get("a", "/fast", weight: 3), Get("b", "/fast?b", weight: 1)));

        var ratio = (double)result.Endpoints["a"].Requests / result.Endpoints["b"].Requests;
        Assert.InRange(ratio, 3 * 0.8, 3 * 1.2);
        Assert.Equal(800, result.Endpoints["a"].Requests + result.Endpoints["b"].Requests);
    }

    [Fact]
    public async Task RunAsync_OpenModelWithMaxRequests_SendsExactlyThatManyWithUniqueSequences()
    {
        var run = Guid.NewGuid().ToString("N");
        var sequences = new ConcurrentBag<long>();
        var profile = Open(500, TimeSpan.FromSeconds(10), Counted(run, sequences)) with { MaxRequests = 137 };
        var clock = Stopwatch.StartNew();

        var result = await RunAsync(profile);

        Assert.Equal(137, result.Requests);
        Assert.Equal(137, server.Count(run));
        Assert.Equal(137, sequences.Distinct().Count());
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(3), $"returned after {clock.Elapsed}");
    }

    [Fact]
    public async Task RunAsync_ClosedModelWithMaxRequests_SendsExactlyThatManyWithUniqueSequences()
    {
        var run = Guid.NewGuid().ToString("N");
        var sequences = new ConcurrentBag<long>();

        var result = await RunAsync(Closed(7, maxRequests: 101, Counted(run, sequences)));

        Assert.Equal(101, result.Requests);
        Assert.Equal(101, server.Count(run));
        Assert.Equal(101, sequences.Distinct().Count());
    }

    [Fact]
    public async Task RunAsync_InFlightCapReached_CountsTheExcessAsDropped()
    {
        var profile = Open(200, TimeSpan.FromSeconds(1), Get("stall", "/stall")) with
        {
            MaxInFlight = 10,
            RequestTimeout = TimeSpan.FromMilliseconds(400),
        };

        var result = await RunAsync(profile);

        var dropped = result.Total.Outcomes.GetValueOrDefault(LoadOutcomes.Dropped);
        var timeouts = result.Total.Outcomes.GetValueOrDefault(LoadOutcomes.Timeout);
        Assert.InRange(timeouts, 10, 40);
        Assert.Equal(result.Requests, dropped + timeouts);
        Assert.Equal(result.Requests, result.Total.Errors);
    }

    [Fact]
    public async Task RunAsync_Timeline_SecondsSumToTheTotals()
    {
        var result = await RunAsync(Open(100, TimeSpan.FromSeconds(2.5), Get("fast", "/fast", weight: 2), Get("error", "/error")));

        Assert.Equal([0, 1, 2], result.Timeline.Select(second => second.Second));
        Assert.Equal(result.Requests, result.Timeline.Sum(second => second.Requests));
        Assert.Equal(result.Total.Errors, result.Timeline.Sum(second => second.Errors));
        foreach (var (name, stats) in result.Endpoints)
        {
            Assert.Equal(stats.Requests, result.Timeline.Sum(second => second.Endpoints[name].Requests));
            Assert.Equal(stats.Errors, result.Timeline.Sum(second => second.Endpoints[name].Errors));
        }

        Assert.All(result.Timeline.Take(2), second => Assert.InRange(second.Requests, 85, 115));
    }

    [Fact]
    public async Task RunAsync_Progress_ReportsAboutOnceASecondAndAtTheEnd()
    {
        var reports = new ConcurrentQueue<LoadProgress>();

        var result = await RunAsync(Open(50, TimeSpan.FromSeconds(2.2), Get("fast", "/fast")), new Sink(reports));

        Assert.InRange(reports.Count, 2, 5);
        Assert.Equal(result.Requests, reports.Last().Completed);
    }

    [Fact]
    public async Task RunAsync_Cancelled_StopsPromptly()
    {
        using var http = LoadHttpClient.Create(server.Address);
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        var clock = Stopwatch.StartNew();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            new LoadGenerator(http, TimeProvider.System).RunAsync(Open(100, TimeSpan.FromSeconds(10), Get("stall", "/stall")), null, cancel.Token));

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(3), $"returned after {clock.Elapsed}");
    }

    [Theory]
    [InlineData(LoadModel.Open)]
    [InlineData(LoadModel.Closed)]
    public async Task RunAsync_TemplateTargetsAnotherHost_ThrowsArgumentExceptionAtOnce(LoadModel model)
    {
        var away = new RequestTemplate("away", 1, _ => new HttpRequestMessage(HttpMethod.Get, "http://example.com/"));
        var profile = Open(10, TimeSpan.FromSeconds(10), Get("fast", "/fast"), away) with { Model = model, Concurrency = 2 };
        var clock = Stopwatch.StartNew();

        var error = await Assert.ThrowsAsync<ArgumentException>(() => RunAsync(profile));

        Assert.Contains("loopback", error.Message, StringComparison.Ordinal);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(3), $"returned after {clock.Elapsed}");
    }

    [Fact]
    public async Task RunAsync_TemplateWithPathString_ResolvesAgainstTheBaseAddress()
    {
        // On Unix "/fast" alone parses as an absolute file URI; it must still mean the server's /fast.
        var profile = Closed(1, maxRequests: 3, new RequestTemplate("fast", 1, _ => new HttpRequestMessage(HttpMethod.Get, "/fast")));

        var result = await RunAsync(profile);

        Assert.Equal(3, result.Total.Outcomes["200"]);
    }

    private async Task<LoadResult> RunAsync(LoadProfile profile, IProgress<LoadProgress>? progress = null)
    {
        using var http = LoadHttpClient.Create(server.Address);
        return await new LoadGenerator(http, TimeProvider.System).RunAsync(profile, progress, CancellationToken.None).WaitAsync(TestBound);
    }

    /// <summary>Runs <paramref name="profile"/> while the server holds every /gated request from 1 s to 2 s.</summary>
    private async Task<LoadResult> RunWithStallAsync(LoadProfile profile)
    {
        using var http = LoadHttpClient.Create(server.Address);
        var run = new LoadGenerator(http, TimeProvider.System).RunAsync(profile, null, CancellationToken.None);
        try
        {
            await Task.Delay(TimeSpan.FromSeconds(1));
            server.CloseGate();
            await Task.Delay(TimeSpan.FromSeconds(1));
        }
        finally
        {
            server.OpenGate();
        }

        return await run.WaitAsync(TestBound);
    }

    private static LoadProfile Open(double rate, TimeSpan duration, params RequestTemplate[] mix) =>
        new() { Model = LoadModel.Open, RatePerSecond = rate, Duration = duration, Mix = mix };

    private static LoadProfile Closed(int users, long maxRequests, params RequestTemplate[] mix) =>
        new() { Model = LoadModel.Closed, Concurrency = users, Duration = TimeSpan.FromSeconds(10), MaxRequests = maxRequests, Mix = mix };

    private static RequestTemplate Get(string name, string path, double weight = 1) =>
        new(name, weight, _ => new HttpRequestMessage(HttpMethod.Get, new Uri(path, UriKind.Relative)));

    private static RequestTemplate Counted(string run, ConcurrentBag<long> sequences) =>
        new("count", 1, sequence =>
        {
            sequences.Add(sequence);
            return new HttpRequestMessage(HttpMethod.Get, new Uri($"/count?run={run}", UriKind.Relative));
        });

    /// <summary>Records synchronously; <see cref="Progress{T}"/> would post and race the assertions.</summary>
    private sealed class Sink(ConcurrentQueue<LoadProgress> reports) : IProgress<LoadProgress>
    {
        public void Report(LoadProgress value) => reports.Enqueue(value);
    }
}

/// <summary>
/// The generator's timing tests (stalls, rates) and the CLI's load tests share one server, and run
/// alone, after the parallel collections: a chart being rendered or a process starting beside them
/// on two cores delays the generator's own threads enough to fail them.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class LoadServerGroup : ICollectionFixture<LoadTestServer>
{
    public const string Name = "load";
}
