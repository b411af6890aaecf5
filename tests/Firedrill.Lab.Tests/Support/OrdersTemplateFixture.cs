using Firedrill.Lab.Fleet;

namespace Firedrill.Lab.Tests.Support;

/// <summary>
/// The million-order template database, built once per schema version before the tests that copy
/// it (about two minutes the first time on a 2-core machine; nothing when it exists), so no run
/// through the CLI pays for it inside its own time limit.
/// </summary>
public sealed class OrdersTemplateFixture : IAsyncLifetime
{
    public string Name { get; private set; } = "";

    public async Task InitializeAsync() =>
        Name = await OrdersTemplate.EnsureAsync(Engines.Postgres, LabDefaults.TempFolder(), progress: null, CancellationToken.None);

    public Task DisposeAsync() => Task.CompletedTask;
}
