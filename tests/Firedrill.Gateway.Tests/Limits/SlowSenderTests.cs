using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Firedrill.Gateway.Limits;
using Firedrill.Gateway.Tests.Support;

namespace Firedrill.Gateway.Tests.Limits;

/// <summary>Slowloris: a client that trickles its headers is cut after the gateway's headers timeout, not Kestrel's 30 s.</summary>
public sealed class SlowSenderTests : IAsyncLifetime
{
    private Backend _backend = null!;
    private GatewayInstance _gateway = null!;

    public async Task InitializeAsync()
    {
        _backend = await Backend.StartAsync("a");
        _gateway = new GatewayInstance([_backend]);
    }

    [Fact]
    public async Task Get_HeadersTrickledOneByteASecond_CutWith408AfterTheHeadersTimeout()
    {
        var address = _gateway.CreateClient().BaseAddress!;
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(IPAddress.Loopback, address.Port);
        await socket.SendAsync(Encoding.ASCII.GetBytes($"GET /api/products/1 HTTP/1.1\r\nHost: 127.0.0.1:{address.Port}\r\nX-Slow: "));
        var started = Stopwatch.GetTimestamp();
        var buffer = new byte[1024];
        var answer = socket.ReceiveAsync(buffer, SocketFlags.None);
        while (!answer.IsCompleted && Stopwatch.GetElapsedTime(started) < TimeSpan.FromSeconds(25))
        {
            await socket.SendAsync("a"u8.ToArray());
            await Task.WhenAny(answer, Task.Delay(TimeSpan.FromSeconds(1)));
        }

        Assert.True(answer.IsCompleted, "the gateway still held the slow sender after 25 s");
        var text = Encoding.ASCII.GetString(buffer, 0, await answer);
        Assert.StartsWith("HTTP/1.1 408", text, StringComparison.Ordinal);
        var held = Stopwatch.GetElapsedTime(started);
        Assert.InRange(held, GatewayOptions.RequestHeadersTimeout - TimeSpan.FromSeconds(1), GatewayOptions.RequestHeadersTimeout + TimeSpan.FromSeconds(8));
    }

    public async Task DisposeAsync()
    {
        await _gateway.DisposeAsync();
        await _backend.DisposeAsync();
    }
}
