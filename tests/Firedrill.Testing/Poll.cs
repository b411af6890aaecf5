namespace Firedrill.Testing;

public static class Poll
{
    /// <summary>
    /// Re-evaluates <paramref name="condition"/> until it holds or <paramref name="within"/> passes;
    /// for effects that cross processes asynchronously (pub/sub, Kafka, health probes, config
    /// reloads). Deadlines are generous so a busy 2-core machine does not fail a correct system.
    /// </summary>
    public static async Task<bool> UntilAsync(Func<Task<bool>> condition, TimeSpan within, TimeSpan? every = null)
    {
        var deadline = DateTime.UtcNow + within;
        while (true)
        {
            if (await condition())
            {
                return true;
            }

            if (DateTime.UtcNow >= deadline)
            {
                return false;
            }

            await Task.Delay(every ?? TimeSpan.FromMilliseconds(100));
        }
    }
}
