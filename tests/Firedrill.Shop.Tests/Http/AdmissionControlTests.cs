using System.Text;
using Firedrill.Shop.Http;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Firedrill.Shop.Tests.Http;

/// <summary>The admission middleware with a real limiter and a request the test holds inside it.</summary>
public sealed class AdmissionControlTests : IDisposable
{
    private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private ServiceProvider _services = null!;
    private int _served;

    private void Configure(TimeSpan maxQueueTime, bool cancelWritesOnClientAbort = false)
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddMetrics();
        services.AddProblemDetails();
        services.Configure<AdmissionOptions>(options =>
        {
            options.MaxConcurrentRequests = 1;
            options.QueueLimit = 1;
            options.MaxQueueTime = maxQueueTime;
            options.RetryAfterSeconds = 2;
            options.CancelWritesOnClientAbort = cancelWritesOnClientAbort;
        });
        _services = services.BuildServiceProvider();
    }

    [Fact]
    public async Task Invoke_AtCapacityWithTheQueueFull_ShedsAtOnceWith503RetryAfterAndAProblem()
    {
        var admission = Create();
        var held = admission.InvokeAsync(Context("/orders"));
        var waiting = admission.InvokeAsync(Context("/orders"));

        var shed = Context("/orders");
        await admission.InvokeAsync(shed);

        Assert.Equal(StatusCodes.Status503ServiceUnavailable, shed.Response.StatusCode);
        Assert.Equal("2", shed.Response.Headers.RetryAfter.ToString());
        Assert.Contains("Server busy", Body(shed), StringComparison.Ordinal);
        _release.SetResult();
        await Task.WhenAll(held, waiting);
        Assert.Equal(2, _served);
    }

    [Fact]
    public async Task Invoke_WaitedLongerThanMaxQueueTime_IsShedWithoutBeingServed()
    {
        var admission = Create(maxQueueSeconds: 0.2);
        var held = admission.InvokeAsync(Context("/orders"));

        var waited = Context("/orders");
        await admission.InvokeAsync(waited);

        Assert.Equal(StatusCodes.Status503ServiceUnavailable, waited.Response.StatusCode);
        Assert.Equal(1, _served);
        _release.SetResult();
        await held;
    }

    [Theory]
    [InlineData("/health/ready")]
    [InlineData("/metrics")]
    [InlineData("/_lab/config")]
    public async Task Invoke_OperationalPathsAtCapacity_AreNeverShed(string path)
    {
        var admission = Create();
        var held = admission.InvokeAsync(Context("/orders"));
        var queued = admission.InvokeAsync(Context("/orders"));

        var operational = Context(path);
        var answered = admission.InvokeAsync(operational);

        Assert.False(answered.IsCompleted && operational.Response.StatusCode == StatusCodes.Status503ServiceUnavailable);
        _release.SetResult();
        await Task.WhenAll(held, queued, answered);
        Assert.Equal(StatusCodes.Status200OK, operational.Response.StatusCode);
        Assert.Equal(3, _served);
    }

    [Theory]
    [InlineData("POST", false, false)]
    [InlineData("POST", true, true)]
    [InlineData("GET", false, true)]
    public async Task Invoke_CallerLeavesOnceAdmitted_CancelsReadsAndOnlyConfiguredWrites(string method, bool cancelWritesOnClientAbort, bool cancelled)
    {
        Configure(TimeSpan.FromSeconds(60), cancelWritesOnClientAbort);
        var endpointToken = new TaskCompletionSource<CancellationToken>(TaskCreationOptions.RunContinuationsAsynchronously);
        var admission = Build(async context =>
        {
            endpointToken.SetResult(context.RequestAborted);
            await _release.Task;
        });
        using var caller = new CancellationTokenSource();
        var request = Context("/payments");
        request.Request.Method = method;
        request.RequestAborted = caller.Token;

        var served = admission.InvokeAsync(request);
        var token = await endpointToken.Task;
        await caller.CancelAsync();

        Assert.Equal(cancelled, token.IsCancellationRequested);
        _release.SetResult();
        await served;
    }

    // A queue time far beyond the test's own, unless the test is about the queue time.
    private AdmissionControl Create(double maxQueueSeconds = 60)
    {
        Configure(TimeSpan.FromSeconds(maxQueueSeconds));
        return Build();
    }

    private AdmissionControl Build() => Build(async context =>
    {
        Interlocked.Increment(ref _served);
        await _release.Task;
        context.Response.StatusCode = StatusCodes.Status200OK;
    });

    private AdmissionControl Build(RequestDelegate endpoint) => new(
        endpoint,
        _services.GetRequiredService<IOptionsMonitor<AdmissionOptions>>(),
        _services.GetRequiredService<IProblemDetailsService>(),
        _services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(),
        _services.GetRequiredService<ILogger<AdmissionControl>>());

    private DefaultHttpContext Context(string path)
    {
        var context = new DefaultHttpContext { RequestServices = _services };
        context.Request.Path = path;
        context.Request.Method = HttpMethods.Post;
        context.Response.Body = new MemoryStream();
        return context;
    }

    private static string Body(HttpContext context) => Encoding.UTF8.GetString(((MemoryStream)context.Response.Body).ToArray());

    public void Dispose() => _services?.Dispose();
}
