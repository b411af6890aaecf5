using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Firedrill.Lab.Faults.Support;

/// <summary>
/// A loopback TCP forwarder that loses answers, as a Toxiproxy "reset_peer" toxic would, but
/// aimed: while <see cref="CutShare"/> is above zero, that share of POST requests pass through
/// untouched, and when the server's answer starts to come back the proxy drops it and resets both
/// connections. The server did its work and committed; the client never hears of it.
/// </summary>
internal sealed class CuttingProxy : IAsyncDisposable
{
    private static readonly byte[][] Methods = [.. new[] { "GET ", "POST ", "PUT ", "DELETE ", "PATCH ", "HEAD ", "OPTIONS " }.Select(Encoding.ASCII.GetBytes)];
    private static readonly byte[] Post = Encoding.ASCII.GetBytes("POST ");

    private readonly IPEndPoint _target;
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Random _random;
    private readonly Task _accepting;
    private long _cuts;
    private long _posts;

    public CuttingProxy(Uri target, int seed)
    {
        _target = new IPEndPoint(IPAddress.Parse(target.Host), target.Port);
        _random = new Random(seed);
        _listener.Start();
        Address = new Uri($"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}");
        _accepting = AcceptAsync();
    }

    public Uri Address { get; }

    /// <summary>The share of POST answers to lose (0: a plain forwarder).</summary>
    public double CutShare { get; set; }

    public long Cuts => Interlocked.Read(ref _cuts);

    public long Posts => Interlocked.Read(ref _posts);

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket inbound;
            try
            {
                inbound = await _listener.AcceptSocketAsync(_stop.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            _ = ForwardAsync(inbound);
        }
    }

    private async Task ForwardAsync(Socket inbound)
    {
        using var outbound = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        inbound.NoDelay = true;
        var connection = new Connection();
        try
        {
            await outbound.ConnectAsync(_target, _stop.Token);
            var up = PumpAsync(inbound, outbound, connection, upstream: true);
            var down = PumpAsync(outbound, inbound, connection, upstream: false);
            await Task.WhenAny(up, down);
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // The target refused or the proxy stopped: the client sees its connection end.
        }
        finally
        {
            Reset(inbound);
            Reset(outbound);
        }
    }

    private async Task PumpAsync(Socket from, Socket to, Connection connection, bool upstream)
    {
        var buffer = new byte[16 * 1024];
        while (true)
        {
            int read;
            try
            {
                read = await from.ReceiveAsync(buffer, SocketFlags.None, _stop.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            if (read == 0)
            {
                return;
            }

            if (upstream && StartsRequest(buffer.AsSpan(0, read), out var post))
            {
                // HTTP/1.1 without pipelining: a chunk that opens with a method is the next request.
                var cut = false;
                if (post)
                {
                    Interlocked.Increment(ref _posts);
                    lock (_random)
                    {
                        cut = _random.NextDouble() < CutShare;
                    }
                }

                connection.CutNextAnswer = cut;
            }
            else if (!upstream && connection.CutNextAnswer)
            {
                // The answer is coming back: it was committed, and it is lost here.
                Interlocked.Increment(ref _cuts);
                return;
            }

            try
            {
                await to.SendAsync(buffer.AsMemory(0, read), SocketFlags.None, _stop.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }
        }
    }

    private static bool StartsRequest(ReadOnlySpan<byte> chunk, out bool post)
    {
        post = false;
        foreach (var method in Methods)
        {
            if (chunk.Length > method.Length && chunk.StartsWith(method) && chunk[method.Length] == (byte)'/')
            {
                post = ReferenceEquals(method, Methods[1]) || chunk.StartsWith(Post);
                return true;
            }
        }

        return false;
    }

    /// <summary>Closes with RST, not FIN: the peer sees "connection reset", as when a middlebox drops it.</summary>
    private static void Reset(Socket socket)
    {
        try
        {
            socket.LingerState = new LingerOption(true, 0);
            socket.Close();
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            // Already gone.
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _accepting;
        _stop.Dispose();
    }

    private sealed class Connection
    {
        public volatile bool CutNextAnswer;
    }
}
