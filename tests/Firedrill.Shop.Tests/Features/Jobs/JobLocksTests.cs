using Firedrill.Shop.Features.Jobs;
using Firedrill.Shop.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Firedrill.Shop.Tests.Features.Jobs;

/// <summary>The lease store on the real database: ShedLock's semantics, lock-at-most and lock-at-least.</summary>
public sealed class JobLocksTests(ShopFixture fixture) : IClassFixture<ShopFixture>
{
    private readonly JobLocks _locks = fixture.Shop.Services.GetRequiredService<JobLocks>();

    [Fact]
    public async Task TryLease_HeldByAnother_ReturnsNull()
    {
        var name = Name();
        Assert.NotNull(await _locks.TryLeaseAsync(name, "shop-1", TimeSpan.FromMinutes(1), default));

        Assert.Null(await _locks.TryLeaseAsync(name, "shop-2", TimeSpan.FromMinutes(1), default));
    }

    [Fact]
    public async Task Release_WithLockAtLeast_KeepsItHeldUntilThen()
    {
        var name = Name();
        var lease = await _locks.TryLeaseAsync(name, "shop-1", TimeSpan.FromMinutes(1), default);

        await _locks.ReleaseAsync(lease!, TimeSpan.FromMinutes(1), default);

        Assert.Null(await _locks.TryLeaseAsync(name, "shop-2", TimeSpan.FromMinutes(1), default));
    }

    [Fact]
    public async Task Release_WithoutLockAtLeast_FreesItAtOnce()
    {
        var name = Name();
        var lease = await _locks.TryLeaseAsync(name, "shop-1", TimeSpan.FromMinutes(1), default);

        await _locks.ReleaseAsync(lease!, TimeSpan.Zero, default);

        Assert.NotNull(await _locks.TryLeaseAsync(name, "shop-2", TimeSpan.FromMinutes(1), default));
    }

    [Fact]
    public async Task TryLease_HolderNeverReleasedAndLeaseExpired_TakesItOver()
    {
        var name = Name();
        Assert.NotNull(await _locks.TryLeaseAsync(name, "killed", TimeSpan.FromMilliseconds(200), default));

        Assert.True(await Poll.UntilAsync(async () => await _locks.TryLeaseAsync(name, "shop-2", TimeSpan.FromMinutes(1), default) is not null, TimeSpan.FromSeconds(10)),
            "the dead holder's lease never expired");
    }

    [Fact]
    public async Task Release_OfALeaseTakenOverSinceItExpired_LeavesTheNewHolderAlone()
    {
        var name = Name();
        var stale = await _locks.TryLeaseAsync(name, "slow", TimeSpan.FromMilliseconds(100), default);
        Lease? current = null;
        Assert.True(await Poll.UntilAsync(async () => (current = await _locks.TryLeaseAsync(name, "shop-2", TimeSpan.FromMinutes(1), default)) is not null, TimeSpan.FromSeconds(10)));

        await _locks.ReleaseAsync(stale!, TimeSpan.Zero, default);

        Assert.Null(await _locks.TryLeaseAsync(name, "shop-3", TimeSpan.FromMinutes(1), default));
    }

    [Fact]
    public async Task RowWithoutExpiry_UntilItsHolderRemovesIt_IsHeldForever()
    {
        var name = Name();
        Assert.True(await _locks.TryTakeRowWithoutExpiryAsync(name, "shop-1", default));
        Assert.False(await _locks.TryTakeRowWithoutExpiryAsync(name, "shop-2", default));

        await _locks.RemoveRowAsync(name, "shop-1", default);

        Assert.True(await _locks.TryTakeRowWithoutExpiryAsync(name, "shop-2", default));
    }

    private static string Name() => $"test:{Guid.NewGuid():N}";
}
