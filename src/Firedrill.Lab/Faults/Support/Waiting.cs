namespace Firedrill.Lab.Faults.Support;

/// <summary>Bounded waits for the fleet to reach a state, polled; never an unbounded loop.</summary>
internal static class Waiting
{
    /// <returns>True when <paramref name="condition"/> held before <paramref name="limit"/> passed.</returns>
    public static async Task<bool> UntilAsync(Func<CancellationToken, Task<bool>> condition, TimeSpan limit, TimeSpan period, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + limit;
        while (true)
        {
            try
            {
                if (await condition(cancellationToken))
                {
                    return true;
                }
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // Not there yet (an engine may still be coming back).
            }

            if (DateTime.UtcNow >= deadline)
            {
                return false;
            }

            await Task.Delay(period, cancellationToken);
        }
    }
}
