namespace Firedrill.Shop.Features.Inventory;

/// <summary>
/// Caps retries at a fraction of the calls (Finagle's RetryBudget, gRPC's retry throttling): each
/// call deposits <c>ratio</c> of a token, each retry spends one, and the balance holds at most
/// <c>reserve</c> tokens. Against a dependency that fails now and then, every failure can be retried;
/// against one that is slow or down, retries stop multiplying its load by up to (1 + MaxRetries)
/// and stay near 1 + ratio of the calls.
/// </summary>
internal sealed class RetryBudget(double ratio, double reserve)
{
    private readonly Lock _gate = new();
    private readonly double _reserve = reserve;
    private double _tokens = reserve;

    /// <summary>Called with each attempt's outcome, in order; true when this failed attempt may be retried.</summary>
    /// <param name="firstAttempt">The call's first attempt: the call deposits its share, once.</param>
    public bool AllowsRetry(bool firstAttempt, bool failed)
    {
        lock (_gate)
        {
            if (firstAttempt)
            {
                _tokens = Math.Min(_reserve, _tokens + ratio);
            }

            if (!failed || _tokens < 1)
            {
                return false;
            }

            _tokens -= 1;
            return true;
        }
    }
}
