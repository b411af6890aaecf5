namespace Firedrill.Lab.Load;

/// <summary>An <see cref="HttpClient"/> fit for load: many connections, no retries, no client-side timeout.</summary>
public static class LoadHttpClient
{
    public static HttpClient Create(Uri baseAddress)
    {
        Loopback.Ensure(baseAddress, nameof(baseAddress));

        // The generator enforces and counts the per-request timeout itself.
        return new HttpClient(CreateHandler(), disposeHandler: true) { BaseAddress = baseAddress, Timeout = Timeout.InfiniteTimeSpan };
    }

    /// <summary>The handler <see cref="Create"/> sends through, for a caller that wraps it (a <see cref="DelegatingHandler"/> that observes each answer).</summary>
    public static SocketsHttpHandler CreateHandler() =>
        new()
        {
            // A low cap would queue requests inside the client, and the queueing would be charged to the server.
            MaxConnectionsPerServer = int.MaxValue,
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30),
            // Loopback only: an HTTP_PROXY in the environment must not reroute the load.
            UseProxy = false,
            AllowAutoRedirect = false,
            UseCookies = false,
            AutomaticDecompression = System.Net.DecompressionMethods.None,
        };
}
