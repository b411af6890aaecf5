using System.Diagnostics.CodeAnalysis;
using System.Net;
using System.Reflection;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using Firedrill.Shop.Features.Inventory;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Http.Resilience;
using Microsoft.Extensions.Options;
using Polly;
using Polly.Registry;

namespace Firedrill.Bench.Micro;

/// <summary>
/// What the inventory resilience pipeline (bulkhead, total timeout, retry, breaker, attempt
/// timeout) costs per call when inventory answers at once: the floor every availability lookup
/// pays before any network time. Two groups, each with its own baseline:
/// <list type="bullet">
/// <item><c>Pipeline</c>: the shop's pipeline around an operation that completes synchronously,
/// against calling the operation directly.</item>
/// <item><c>PipelineAsync</c>: the same around an operation that completes later, on a thread-pool
/// thread, as the network call it guards does.</item>
/// <item><c>HttpClient</c>: the shop's typed client end to end with a primary handler that
/// answers 200 at once, against the same client without the resilience handler.</item>
/// </list>
/// The services are registered by the shop's own <see cref="InventoryClientExtensions.AddInventoryClient"/>,
/// so the pipeline measured is the one the shop builds, with the option defaults (which are
/// also what the shop's appsettings.json sets). No telemetry listener is attached: in the shop,
/// OpenTelemetry listening to the "Polly" meter adds its recording cost on top.
/// </summary>
[SuppressMessage("Design", "CA1001", Justification = "BenchmarkDotNet owns the lifetime: everything is disposed in [GlobalCleanup].")]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
public class ResiliencePipelineBenchmarks
{
    private const string PipelineCategory = "Pipeline";
    private const string AsyncPipelineCategory = "PipelineAsync";
    private const string HttpClientCategory = "HttpClient";
    private const string BareClientName = "inventory-without-resilience";

    private static readonly Uri RequestUri = new("/inventory/SKU-000042", UriKind.Relative);

    /// <summary>The operation both pipeline benchmarks run: inventory answering at once.</summary>
    private static readonly Func<HttpResponseMessage, CancellationToken, ValueTask<HttpResponseMessage>> Operation =
        static (response, _) => ValueTask.FromResult(response);

    /// <summary>
    /// The same, but completing later on another thread, as a network call does: every strategy's
    /// async frame then really suspends and resumes, and the timeouts' cancellation registrations
    /// are made and undone, which an operation that completes at once never causes.
    /// </summary>
    private static readonly Func<HttpResponseMessage, CancellationToken, ValueTask<HttpResponseMessage>> AsyncOperation =
        static async (response, _) =>
        {
            await Task.Yield();
            return response;
        };

    private readonly HttpResponseMessage _cachedResponse = new(HttpStatusCode.OK);
    private ServiceProvider? _services;
    private ResiliencePipeline<HttpResponseMessage> _pipeline = ResiliencePipeline<HttpResponseMessage>.Empty;
    private HttpClient? _inventoryClient;
    private HttpClient? _bareClient;

    [GlobalSetup]
    public void Setup()
    {
        // DisableDefaults: no appsettings, environment or console logger from wherever the
        // benchmark process happens to start, so the options are the defaults in code.
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.AddInventoryClient();

        // Same client name as the typed client, so this only swaps the socket handler for one
        // that answers at once; the resilience handler and the factory's logging handlers stay.
        builder.Services.AddHttpClient(nameof(InventoryClient))
            .ConfigurePrimaryHttpMessageHandler(static () => new CompletedResponseHandler());
        builder.Services.AddHttpClient(BareClientName, static http => http.BaseAddress = new InventoryClientOptions().BaseAddress)
            .ConfigurePrimaryHttpMessageHandler(static () => new CompletedResponseHandler());

        _services = (ServiceProvider)builder.Build().Services;
        _ = _services.GetRequiredService<IOptionsMonitor<InventoryClientOptions>>().CurrentValue; // validates, as ValidateOnStart would
        _pipeline = ResolveShopPipeline(_services, $"{nameof(InventoryClient)}-{InventoryClientExtensions.PipelineName}");

        var factory = _services.GetRequiredService<IHttpClientFactory>();
        _inventoryClient = factory.CreateClient(nameof(InventoryClient));
        _bareClient = factory.CreateClient(BareClientName);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _inventoryClient?.Dispose();
        _bareClient?.Dispose();
        _services?.Dispose();
        _cachedResponse.Dispose();
    }

    [Benchmark(Baseline = true)]
    [BenchmarkCategory(PipelineCategory)]
    public ValueTask<HttpResponseMessage> DirectCall() => Operation(_cachedResponse, CancellationToken.None);

    /// <summary>The state overload: Polly rents and returns the <see cref="ResilienceContext"/> from its pool, as the handler does.</summary>
    [Benchmark]
    [BenchmarkCategory(PipelineCategory)]
    public ValueTask<HttpResponseMessage> ThroughShopPipeline() =>
        _pipeline.ExecuteAsync(Operation, _cachedResponse, CancellationToken.None);

    [Benchmark(Baseline = true)]
    [BenchmarkCategory(AsyncPipelineCategory)]
    public ValueTask<HttpResponseMessage> DirectCallAsync() => AsyncOperation(_cachedResponse, CancellationToken.None);

    [Benchmark]
    [BenchmarkCategory(AsyncPipelineCategory)]
    public ValueTask<HttpResponseMessage> ThroughShopPipelineAsync() =>
        _pipeline.ExecuteAsync(AsyncOperation, _cachedResponse, CancellationToken.None);

    [Benchmark(Baseline = true)]
    [BenchmarkCategory(HttpClientCategory)]
    public async Task<HttpStatusCode> HttpClientWithoutResilience()
    {
        using var response = await _bareClient!.GetAsync(RequestUri);
        return response.StatusCode;
    }

    [Benchmark]
    [BenchmarkCategory(HttpClientCategory)]
    public async Task<HttpStatusCode> HttpClientWithShopResilience()
    {
        using var response = await _inventoryClient!.GetAsync(RequestUri);
        return response.StatusCode;
    }

    /// <summary>
    /// AddResilienceHandler registers its pipeline under an internal key type (HttpKey: name
    /// "{client}-{pipeline}", empty instance name) rather than a string, so
    /// <c>ResiliencePipelineProvider&lt;string&gt;</c> does not see it. Reflection reaches the
    /// same registry entry the handler uses; it runs once, outside the measurement, and throws
    /// if a package update moves the key, rather than silently measuring something else.
    /// </summary>
    private static ResiliencePipeline<HttpResponseMessage> ResolveShopPipeline(IServiceProvider services, string pipelineName)
    {
        var keyType = typeof(ResilienceHandler).Assembly.GetTypes().SingleOrDefault(static type => type.Name == "HttpKey")
            ?? throw new InvalidOperationException("Microsoft.Extensions.Http.Resilience no longer has an HttpKey type.");
        var providerType = typeof(ResiliencePipelineProvider<>).MakeGenericType(keyType);
        var provider = services.GetRequiredService(providerType);
        var getPipeline = providerType.GetMethods(BindingFlags.Public | BindingFlags.Instance)
            .Single(static method => method.Name == nameof(ResiliencePipelineProvider<string>.GetPipeline) && method.IsGenericMethodDefinition)
            .MakeGenericMethod(typeof(HttpResponseMessage));
        var key = Activator.CreateInstance(keyType, pipelineName, string.Empty);
        try
        {
            return (ResiliencePipeline<HttpResponseMessage>)getPipeline.Invoke(provider, [key])!;
        }
        catch (TargetInvocationException ex) when (ex.InnerException is not null)
        {
            throw new InvalidOperationException($"No resilience pipeline named '{pipelineName}' is registered.", ex.InnerException);
        }
    }

    /// <summary>Answers every request with an empty 200 at once: the network is not what is measured.</summary>
    private sealed class CompletedResponseHandler : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK) { RequestMessage = request });
    }
}
