using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Firedrill.Lab.Fleet;

namespace Firedrill.Lab.Tests.Fleet;

public sealed class NetworkLatencyProxyTests
{
    [Fact]
    public async Task RoundTrip_ThroughTheProxy_PaysTheLatencyEachWayAndDeliversEveryByteInOrder()
    {
        using var echo = new TcpListener(IPAddress.Loopback, 0);
        echo.Start();
        var serving = EchoOnceAsync(echo);
        await using var proxy = NetworkLatencyProxy.Start("127.0.0.1", ((IPEndPoint)echo.LocalEndpoint).Port, TimeSpan.FromMilliseconds(50), TimeProvider.System);

        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, proxy.Port);
        var stream = client.GetStream();
        var sent = Enumerable.Range(0, 100_000).Select(i => (byte)(i * 7)).ToArray();
        var clock = Stopwatch.StartNew();
        await stream.WriteAsync(sent);
        var received = new byte[sent.Length];
        await stream.ReadExactlyAsync(received);
        var roundTrip = clock.Elapsed;

        Assert.Equal(sent, received);
        // Never faster than the network allows: 50 ms there, 50 ms back.
        Assert.True(roundTrip >= TimeSpan.FromMilliseconds(95), $"round trip {roundTrip.TotalMilliseconds} ms");
        client.Client.Shutdown(SocketShutdown.Send);
        await serving.WaitAsync(TimeSpan.FromSeconds(10));
    }

    private static async Task EchoOnceAsync(TcpListener listener)
    {
        using var accepted = await listener.AcceptTcpClientAsync();
        var stream = accepted.GetStream();
        var buffer = new byte[8192];
        int read;
        while ((read = await stream.ReadAsync(buffer)) > 0)
        {
            await stream.WriteAsync(buffer.AsMemory(0, read));
        }
    }
}
