using Firedrill.Shop.Features.Inventory;

namespace Firedrill.Shop.Tests.Features.Inventory;

public sealed class RetryBudgetTests
{
    [Fact]
    public void AllowsRetry_DependencyFailingEveryCall_RetriesStayWithinTheRatioPlusTheReserve()
    {
        var budget = new RetryBudget(ratio: 0.1, reserve: 10);
        var calls = 0;
        var attempts = 0;
        for (var call = 0; call < 1_000; call++)
        {
            calls++;
            attempts++;
            // Every attempt fails; a call retries (up to twice) while the budget allows it.
            var first = true;
            for (var retry = 0; retry < 2 && budget.AllowsRetry(first, failed: true); retry++)
            {
                attempts++;
                first = false;
            }
        }

        // Without the budget: 3,000 attempts (3×). With it: about 1.1× plus the reserve.
        Assert.InRange(attempts, 1_090, 1_100 + 10);
        Assert.Equal(1_000, calls);
    }

    [Fact]
    public void AllowsRetry_OccasionalFailures_EveryOneIsRetried()
    {
        var budget = new RetryBudget(ratio: 0.1, reserve: 10);

        // One call in twenty fails once: 5 % retries, well within a 10 % budget.
        var refused = Enumerable.Range(0, 2_000).Count(call => call % 20 == 0
            ? !budget.AllowsRetry(firstAttempt: true, failed: true) || budget.AllowsRetry(firstAttempt: false, failed: false)
            : budget.AllowsRetry(firstAttempt: true, failed: false));

        Assert.Equal(0, refused);
    }

    [Fact]
    public void AllowsRetry_Success_IsNeverRetried() =>
        Assert.False(new RetryBudget(ratio: 0.1, reserve: 10).AllowsRetry(firstAttempt: true, failed: false));
}
