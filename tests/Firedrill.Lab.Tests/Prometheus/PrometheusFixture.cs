using Firedrill.Lab.Prometheus;

namespace Firedrill.Lab.Tests.Prometheus;

/// <summary>One Prometheus scraping one app whose counter stands at <see cref="Requests"/>, shared by the query tests.</summary>
public sealed class PrometheusFixture : IAsyncLifetime
{
    public const long Requests = 7;

    private readonly TempFolder _folder = new();
    private MetricsApp? _app;
    private PrometheusServer? _server;

    internal PrometheusServer Server => _server ?? throw new InvalidOperationException("Not started.");

    internal HttpClient Http { get; } = new() { Timeout = TimeSpan.FromSeconds(10) };

    internal PromQlClient Client => new(Http, Server.Address);

    public async Task InitializeAsync()
    {
        _app = await MetricsApp.StartAsync();
        _app.Increment(Requests);
        _server = await PrometheusServer.StartAsync(_folder.Path, [_app.Target("first")], CancellationToken.None);
    }

    public async Task DisposeAsync()
    {
        Http.Dispose();
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }

        if (_app is not null)
        {
            await _app.DisposeAsync();
        }

        _folder.Dispose();
    }
}
