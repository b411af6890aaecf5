using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Firedrill.Lab.Faults.Support;

/// <summary>
/// A loopback TCP forwarder that counts the requests it sees and can lose answers, as a Toxiproxy "reset_peer" toxic would, but
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
    private long _requests;

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

    /// <summary>Requests seen, whether or not the target was up to take them.</summary>
    public long Requests => Interlocked.Read(ref _requests);

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
            // The request is read (and counted) before the target is dialled, so a request sent
            // while the target is down still counts: the proxy sees what the client attempted.
            var first = new byte[16 * 1024];
            var read = await inbound.ReceiveAsync(first, SocketFlags.None, _stop.Token);
            if (read == 0)
            {
                return;
            }

            Inspect(first.AsSpan(0, read), connection);
            await outbound.ConnectAsync(_target, _stop.Token);
            await outbound.SendAsync(first.AsMemory(0, read), SocketFlags.None, _stop.Token);
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

            if (upstream)
            {
                Inspect(buffer.AsSpan(0, read), connection);
            }
            else if (connection.CutNextAnswer)
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

    /// <summary>HTTP/1.1 without pipelining: a chunk that opens with a method is the next request.</summary>
    private void Inspect(ReadOnlySpan<byte> chunk, Connection connection)
    {
        if (!StartsRequest(chunk, out var post))
        {
            return;
        }

        Interlocked.Increment(ref _requests);
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
