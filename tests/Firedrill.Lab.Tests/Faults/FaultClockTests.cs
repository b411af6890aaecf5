using System.Diagnostics;
using Firedrill.Lab.Faults;

namespace Firedrill.Lab.Tests.Faults;

public sealed class FaultClockTests
{
    private static readonly TimeSpan Quiet = TimeSpan.FromMilliseconds(200);

    [Fact]
    public async Task Settle_FailuresStopButNothingSucceeds_IsNotSettled()
    {
        // What clients see while every attempt hangs on an overloaded fleet: no failure yet, no success either.
        var clock = new FaultClock(TimeProvider.System, "payment");
        clock.Record("payment", Stopwatch.GetTimestamp(), "timeout", error: true);

        Assert.False(await clock.SettleAsync(Quiet, TimeSpan.FromMilliseconds(600), CancellationToken.None));
    }

    [Fact]
    public async Task Settle_FailuresStopAndAttemptsSucceed_IsSettled()
    {
        var clock = new FaultClock(TimeProvider.System, "payment");
        clock.Record("payment", Stopwatch.GetTimestamp(), "timeout", error: true);
        using var stop = new CancellationTokenSource();
        var succeeding = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                clock.Record("payment", Stopwatch.GetTimestamp(), "201", error: false);
                await Task.Delay(20);
            }
        });

        var settled = await clock.SettleAsync(Quiet, TimeSpan.FromSeconds(30), CancellationToken.None);
        await stop.CancelAsync();
        await succeeding;

        Assert.True(settled);
    }

    [Fact]
    public async Task Settle_NoAttemptEverFailed_IsSettledAtOnce() =>
        Assert.True(await new FaultClock(TimeProvider.System, "payment").SettleAsync(Quiet, TimeSpan.Zero, CancellationToken.None));
}
