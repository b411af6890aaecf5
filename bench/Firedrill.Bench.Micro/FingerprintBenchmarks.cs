using BenchmarkDotNet.Attributes;
using Firedrill.Shop.Features.Payments;

namespace Firedrill.Bench.Micro;

/// <summary>
/// The idempotency fingerprint every payment computes before it claims its key: a formatted
/// string, its UTF-8 bytes and a SHA-256. It is on the path of every payment request, so its
/// cost and allocations are worth knowing before anyone "optimises" that path.
/// </summary>
public class FingerprintBenchmarks
{
    // Fields, not constants, so the JIT cannot fold the formatting away.
    private readonly long _orderId = 1_234_567;
    private readonly decimal _amount = 129.90m;
    private readonly string _currency = "EUR";

    [Benchmark]
    public byte[] Fingerprint() => PaymentService.Fingerprint(_orderId, _amount, _currency);
}
