using Firedrill.Lab.Load;
using Firedrill.Lab.Scenarios;

namespace Firedrill.Lab.Faults.Support;

/// <summary>
/// The load of the payment faults, running while the fault's script injects and ends its fault:
/// payers arriving at a steady rate (each retrying with its key, <see cref="PaymentClient"/>) and
/// catalog readers, through the gateway (or whatever stands in front of it), plus the lab's own
/// samplers. <see cref="StopAsync"/> ends it all and returns the payers' records.
/// </summary>
internal sealed class PaymentRun : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _background = [];
    private readonly HttpClient _client;
    private Task<IReadOnlyList<PaymentRecord>> _payments = null!;

    private PaymentRun(FaultClock clock, HttpClient client) => (Clock, _client) = (clock, client);

    public FaultClock Clock { get; }

    /// <summary>The orders placed for the payers, so a fault can size its stages by them.</summary>
    public int Orders { get; private init; }

    /// <param name="expected">How long the fault's script should take; orders are placed for it, with room to spare.</param>
    /// <param name="front">Where the clients send (default: the gateway).</param>
    public static async Task<PaymentRun> StartAsync(ScenarioContext context, double paymentsPerSecond, double readsPerSecond, TimeSpan expected,
        CancellationToken cancellationToken, Uri? front = null, TimeSpan? attemptTimeout = null)
    {
        var orders = await OrderBook.PlaceAsync(context.Fleet.Shops[0], (int)Math.Ceiling(paymentsPerSecond * expected.TotalSeconds * 1.5) + 10, cancellationToken);
        var client = LoadHttpClient.Create(front ?? context.Fleet.Gateway.Address);
        var run = new PaymentRun(new FaultClock(context.Time, PaymentClient.Endpoint, Loads.Catalog), client) { Orders = orders.Count };
        var limit = expected * 3;
        var payer = new PaymentClient(client, run.Clock, attemptTimeout ?? TimeSpan.FromSeconds(2));
        run._payments = Loads.PayAsync(payer, orders, paymentsPerSecond, limit, run._stop.Token, cancellationToken);
        if (readsPerSecond > 0)
        {
            run._background.Add(Loads.ReadCatalogAsync(client, run.Clock, readsPerSecond, limit, TimeSpan.FromSeconds(2), run._stop.Token, cancellationToken));
        }

        run.SampleEvery("replicas ready", TimeSpan.FromMilliseconds(500), token => Probes.ReadyReplicasAsync(context.Fleet, token));
        return run;
    }

    /// <summary>Samples a series of the lab's own until the load stops.</summary>
    public void SampleEvery(string name, TimeSpan period, Func<CancellationToken, Task<double>> read) =>
        _background.Add(Clock.SampleEveryAsync(name, period, read, _stop.Token));

    /// <summary>Ends the load (payers in the middle of a payment finish it) and returns every payer's record.</summary>
    public async Task<IReadOnlyList<PaymentRecord>> StopAsync()
    {
        await _stop.CancelAsync();
        var records = await _payments;
        await Task.WhenAll(_background);
        return records;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try
        {
            await Task.WhenAll([_payments, .. _background]);
        }
        catch (Exception ex) when (ex is OperationCanceledException or HttpRequestException)
        {
            // Disposed after a failure: the load's own outcome no longer matters.
        }

        _client.Dispose();
        _stop.Dispose();
    }
}
