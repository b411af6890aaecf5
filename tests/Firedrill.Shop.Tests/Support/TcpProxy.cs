using System.Net;
using System.Net.Sockets;

namespace Firedrill.Shop.Tests.Support;

/// <summary>
/// A loopback TCP forwarder in front of an engine. <see cref="Cut"/> drops every open connection
/// and refuses new ones, as a network partition between one replica and its database would;
/// <see cref="HoldNext"/> accepts connections that are never answered, as a server too busy to;
/// <see cref="Refuse"/> closes every new connection at once, as a server that is down, until <see cref="Open"/>.
/// </summary>
public sealed class TcpProxy : IAsyncDisposable
{
    private readonly IPEndPoint _target;
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly List<TcpClient> _open = [];
    private readonly Task _accepting;
    private int _toHold;
    private volatile bool _refusing;

    public TcpProxy(string host, int port)
    {
        _target = new IPEndPoint(IPAddress.Parse(host == "localhost" ? "127.0.0.1" : host), port);
        _listener.Start();
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        _accepting = AcceptAsync();
    }

    public int Port { get; }

    /// <summary>How many connections were accepted and held without an answer.</summary>
    public int Held { get; private set; }

    /// <summary>The next <paramref name="count"/> connections are accepted and then left unanswered (until the proxy is cut).</summary>
    public void HoldNext(int count) => Volatile.Write(ref _toHold, count);

    /// <summary>New connections are closed as soon as they are accepted, until <see cref="Open"/>.</summary>
    public void Refuse() => _refusing = true;

    public void Open() => _refusing = false;

    public void Cut()
    {
        _stop.Cancel();
        _listener.Stop();
        lock (_open)
        {
            foreach (var client in _open)
            {
                client.Dispose();
            }
        }
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient inbound;
            try
            {
                inbound = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            if (_refusing)
            {
                inbound.Dispose();
                continue;
            }

            if (Interlocked.Decrement(ref _toHold) >= 0)
            {
                lock (_open)
                {
                    _open.Add(inbound);
                    Held++;
                }

                continue;
            }

            Interlocked.Exchange(ref _toHold, 0);
            _ = ForwardAsync(inbound);
        }
    }

    private async Task ForwardAsync(TcpClient inbound)
    {
        using var outbound = new TcpClient();
        lock (_open)
        {
            _open.Add(inbound);
            _open.Add(outbound);
        }

        try
        {
            await outbound.ConnectAsync(_target, _stop.Token);
            var up = inbound.GetStream().CopyToAsync(outbound.GetStream(), _stop.Token);
            var down = outbound.GetStream().CopyToAsync(inbound.GetStream(), _stop.Token);
            await Task.WhenAny(up, down);
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or SocketException or ObjectDisposedException)
        {
            // The proxy was cut or a side closed: both sides go.
        }
        finally
        {
            inbound.Dispose();
        }
    }

    public async ValueTask DisposeAsync()
    {
        Cut();
        await _accepting;
        _stop.Dispose();
    }
}
