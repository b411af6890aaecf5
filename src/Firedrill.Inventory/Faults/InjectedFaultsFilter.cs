using Firedrill.ServiceDefaults.Http;
using Firedrill.Inventory.Observability;
using Polly;
using Polly.RateLimiting;

namespace Firedrill.Inventory.Faults;

/// <summary>
/// Runs an endpoint inside the <see cref="FaultPipeline"/> and counts what came of it. A filter
/// on the <c>/inventory</c> group, so health, metrics and the lab endpoint are never slowed.
/// </summary>
internal sealed class InjectedFaultsFilter(FaultPipeline faults, InventoryMetrics metrics) : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext invocation, EndpointFilterDelegate next)
    {
        var aborted = invocation.HttpContext.RequestAborted;
        var context = ResilienceContextPool.Shared.Get(aborted);
        context.Properties.Set(FaultPipeline.IsRead, HttpMethods.IsGet(invocation.HttpContext.Request.Method));
        var outcome = RequestOutcome.Error;
        try
        {
            var result = await faults.Pipeline.ExecuteAsync(
                static (_, state) => state.next(state.invocation), context, (next, invocation));
            outcome = context.Properties.GetValue(FaultPipeline.ErrorInjected, false) ? RequestOutcome.Error : RequestOutcome.Ok;
            return result;
        }
        catch (RateLimiterRejectedException)
        {
            outcome = RequestOutcome.Rejected;
            return Problems.Unavailable("Inventory is at capacity and its queue is full.");
        }
        catch (OperationCanceledException) when (aborted.IsCancellationRequested)
        {
            // The caller gave up (its timeout): the delay stopped with it, as a real server's work would.
            outcome = RequestOutcome.Aborted;
            throw;
        }
        finally
        {
            metrics.Request(outcome);
            ResilienceContextPool.Shared.Return(context);
        }
    }
}

internal static class InjectedFaultsExtensions
{
    public static IServiceCollection AddInjectedFaults(this IServiceCollection services) =>
        services.AddSingleton<CapacityLimiter>().AddSingleton<FaultPipeline>();

    /// <summary>Makes the group's endpoints subject to the lab's latency, error and capacity knobs.</summary>
    public static RouteGroupBuilder WithInjectedFaults(this RouteGroupBuilder group) =>
        group.AddEndpointFilter<RouteGroupBuilder, InjectedFaultsFilter>();
}
