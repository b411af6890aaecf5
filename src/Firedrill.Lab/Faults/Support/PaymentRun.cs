using Firedrill.Lab.Fleet;
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
    /// <summary>A catalog read's timeout, and a payment attempt's unless the fault sets its own.</summary>
    private static readonly TimeSpan ReadTimeout = TimeSpan.FromSeconds(2);

    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _background = [];
    private readonly HttpClient _client;
    private Task<IReadOnlyList<PaymentRecord>> _payments = null!;

    private readonly string _database;

    /// <summary>
    /// How long the clients must go without a failure to have settled: longer than an attempt may
    /// take, so an attempt already hanging when the quiet began has failed within it if it was going to.
    /// </summary>
    private readonly TimeSpan _quiet;

    private PaymentRun(FaultClock clock, HttpClient client, string database, TimeSpan attemptTimeout) =>
        (Clock, _client, _database, _quiet) = (clock, client, database, attemptTimeout + TimeSpan.FromSeconds(1));

    public FaultClock Clock { get; }

    /// <summary>The orders placed for the payers, so a fault can size its stages by them.</summary>
    public int Orders { get; private init; }

    /// <summary>
    /// The fleet of a fault with payers: its replicas and shop settings, with a short idempotency
    /// lease. A key claimed by a replica that died stays "in progress" for one lease; the suite keeps
    /// it short so the payers' retries settle within the run (the default is 30 s).
    /// </summary>
    public static FleetOptions Fleet(FleetOptions defaults, int replicas, IReadOnlyDictionary<string, string>? shopSettings = null)
    {
        var settings = new Dictionary<string, string>(defaults.ShopSettings) { ["Payments:IdempotencyLease"] = "00:00:05" };
        foreach (var (name, value) in shopSettings ?? new Dictionary<string, string>())
        {
            settings[name] = value;
        }

        return defaults with { Replicas = replicas, ShopSettings = settings };
    }

    /// <param name="expected">How long the fault's script should take; orders are placed for it, with room to spare.</param>
    /// <param name="front">Where the clients send (default: the gateway).</param>
    public static async Task<PaymentRun> StartAsync(ScenarioContext context, double paymentsPerSecond, double readsPerSecond, TimeSpan expected,
        CancellationToken cancellationToken, Uri? front = null, TimeSpan? attemptTimeout = null)
    {
        var orders = await OrderBook.PlaceAsync(context.Fleet.Shops[0], (int)Math.Ceiling(paymentsPerSecond * expected.TotalSeconds * 1.5) + 10, cancellationToken);
        var client = LoadHttpClient.Create(front ?? context.Fleet.Gateway.Address);
        var timeout = attemptTimeout ?? ReadTimeout;
        var run = new PaymentRun(new FaultClock(context.Time, PaymentClient.Endpoint, Loads.Catalog), client, context.Fleet.DatabaseConnection,
            timeout > ReadTimeout ? timeout : ReadTimeout) { Orders = orders.Count };
        var limit = expected * 3;
        var payer = new PaymentClient(client, run.Clock, timeout);
        run._payments = Loads.PayAsync(payer, orders, paymentsPerSecond, limit, run._stop.Token, cancellationToken);
        if (readsPerSecond > 0)
        {
            run._background.Add(Loads.ReadCatalogAsync(client, run.Clock, readsPerSecond, limit, ReadTimeout, run._stop.Token, cancellationToken));
        }

        run.SampleEvery("replicas ready", TimeSpan.FromMilliseconds(500), token => Probes.ReadyReplicasAsync(context.Fleet, token));
        return run;
    }

    /// <summary>Samples a series of the lab's own until the load stops.</summary>
    public void SampleEvery(string name, TimeSpan period, Func<CancellationToken, Task<double>> read) =>
        _background.Add(Clock.SampleEveryAsync(name, period, read, _stop.Token));

    /// <summary>Samples the payments PostgreSQL commits per second, as the payers see them land.</summary>
    public void SampleCommittedPerSecond() =>
        SampleEvery("payments committed per second", TimeSpan.FromSeconds(1),
            Probes.PerSecond(token => Probes.ScalarAsync(_database, "SELECT count(*) FROM payments", token)));

    /// <summary>Enters the stage "settling" and waits until the clients have stopped failing (<see cref="_quiet"/>; 15 s at the most).</summary>
    public Task SettleAsync(CancellationToken cancellationToken) => SettleAsync("settling", TimeSpan.FromSeconds(15), cancellationToken);

    /// <summary>Enters <paramref name="stage"/> and waits until the clients have stopped failing (<see cref="_quiet"/>; <paramref name="limit"/> at the most).</summary>
    public async Task SettleAsync(string stage, TimeSpan limit, CancellationToken cancellationToken)
    {
        Clock.Enter(stage);
        await Clock.SettleAsync(_quiet, limit, cancellationToken);
    }

    /// <summary>The stage after the fault: enters it, keeps the load on for <paramref name="after"/>, then stops it and returns every payer's record.</summary>
    public async Task<IReadOnlyList<PaymentRecord>> FinishAsync(TimeSpan after, CancellationToken cancellationToken)
    {
        Clock.Enter(FaultClock.After);
        await Task.Delay(after, cancellationToken);
        return await StopAsync();
    }

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
