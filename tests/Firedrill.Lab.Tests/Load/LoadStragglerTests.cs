using System.Diagnostics;
using Firedrill.Lab.Load;

namespace Firedrill.Lab.Tests.Load;

/// <summary>
/// A handler that ignores cancellation: the generator's own timeout cannot end its requests, so
/// the run must stop waiting at its bound and still count every request it sent.
/// </summary>
[Collection(LoadServerGroup.Name)]
public sealed class LoadStragglerTests
{
    [Theory]
    [InlineData(LoadModel.Open)]
    [InlineData(LoadModel.Closed)]
    public async Task RunAsync_HandlerIgnoresCancellation_CountsStragglersAsTimeoutsAndReturns(LoadModel model)
    {
        using var deaf = new DeafHandler();
        using var invoker = new HttpMessageInvoker(deaf);
        var profile = new LoadProfile
        {
            Model = model,
            RatePerSecond = 20,
            Concurrency = 3,
            Duration = TimeSpan.FromSeconds(0.5),
            RequestTimeout = TimeSpan.FromMilliseconds(200),
            Mix = [new RequestTemplate("deaf", 1, _ => new HttpRequestMessage(HttpMethod.Get, new Uri("/deaf", UriKind.Relative)))],
        };
        var clock = Stopwatch.StartNew();

        var result = await new LoadGenerator(invoker, new Uri("http://127.0.0.1:9/"), TimeProvider.System)
            .RunAsync(profile, null, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(4), $"returned after {clock.Elapsed}");
        Assert.Equal(model == LoadModel.Open ? 10 : 3, result.Requests);
        Assert.Equal(result.Requests, result.Total.Outcomes[LoadOutcomes.Timeout]);
        Assert.Equal(result.Requests, deaf.Received);
    }

    private sealed class DeafHandler : HttpMessageHandler
    {
        private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _received;

        public int Received => Volatile.Read(ref _received);

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _received);
            await _release.Task;
            return new HttpResponseMessage(System.Net.HttpStatusCode.OK);
        }

        protected override void Dispose(bool disposing)
        {
            // Lets the abandoned sends finish; their late answers must change nothing.
            _release.TrySetResult();
            base.Dispose(disposing);
        }
    }
}
