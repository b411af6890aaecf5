using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;

namespace Firedrill.Lab.Fleet;

/// <summary>
/// The network between production's replicas and its database, which a machine running everything
/// on loopback does not have: a TCP forwarder that delivers every chunk of bytes, each way, a fixed
/// latency after it arrived, in order (what Toxiproxy's latency toxic does). Nothing is dropped or
/// reordered; every query simply pays the round trip a real network makes it pay, while its
/// connection waits. It runs in the lab and lives as long as the fleet.
/// </summary>
public sealed class NetworkLatencyProxy : IAsyncDisposable
{
    private const int ChunkSize = 16 * 1024;

    private readonly IPEndPoint _target;
    private readonly TimeSpan _oneWay;
    private readonly TimeProvider _time;
    private readonly Socket _listener = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Socket> _open = [];
    private readonly Task _accepting;

    private NetworkLatencyProxy(IPEndPoint target, TimeSpan oneWay, TimeProvider time)
    {
        (_target, _oneWay, _time) = (target, oneWay, time);
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen(512);
        Port = ((IPEndPoint)_listener.LocalEndPoint!).Port;
        _accepting = AcceptAsync();
    }

    /// <summary>Where the replicas connect instead of the database (loopback).</summary>
    public int Port { get; }

    /// <summary>The latency each way; a query's round trip pays it twice.</summary>
    public TimeSpan OneWay => _oneWay;

    /// <summary>Forwards a free loopback port to <paramref name="host"/>:<paramref name="port"/> with <paramref name="oneWay"/> each way.</summary>
    public static NetworkLatencyProxy Start(string host, int port, TimeSpan oneWay, TimeProvider time)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(oneWay, TimeSpan.Zero);
        var address = host is "localhost" ? IPAddress.Loopback
            : IPAddress.TryParse(host, out var parsed) ? parsed
            : Dns.GetHostAddresses(host).First(candidate => candidate.AddressFamily == AddressFamily.InterNetwork);
        return new NetworkLatencyProxy(new IPEndPoint(address, port), oneWay, time);
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket inbound;
            try
            {
                inbound = await _listener.AcceptAsync(_stop.Token);
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
        var outbound = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        inbound.NoDelay = true;
        lock (_open)
        {
            _open.Add(inbound);
            _open.Add(outbound);
        }

        try
        {
            await outbound.ConnectAsync(_target, _stop.Token);
            var up = PumpAsync(inbound, outbound);
            var down = PumpAsync(outbound, inbound);
            if (!(await Task.WhenAny(up, down)).IsCompletedSuccessfully)
            {
                // A reset on one side: the other has nothing more to say either.
                inbound.Dispose();
                outbound.Dispose();
            }

            await Task.WhenAll(up, down);
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // The proxy stopped, or a side went away: both sides go.
        }
        finally
        {
            lock (_open)
            {
                _open.Remove(inbound);
                _open.Remove(outbound);
            }

            inbound.Dispose();
            outbound.Dispose();
        }
    }

    /// <summary>
    /// One direction: a reader that stamps each chunk with when it arrived, and a writer that sends
    /// each one when its latency has passed. Chunks overlap in flight (a pipe, not a queue of waits),
    /// so a burst pays the latency once, not once per chunk.
    /// </summary>
    private async Task PumpAsync(Socket from, Socket to)
    {
        var chunks = Channel.CreateUnbounded<(long Arrived, byte[] Bytes)>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        var writing = WriteAsync(chunks.Reader, to);
        try
        {
            var buffer = new byte[ChunkSize];
            while (true)
            {
                var read = await from.ReceiveAsync(buffer, SocketFlags.None, _stop.Token);
                if (read == 0)
                {
                    break;
                }

                chunks.Writer.TryWrite((_time.GetTimestamp(), buffer.AsSpan(0, read).ToArray()));
            }
        }
        catch
        {
            chunks.Writer.TryComplete();
            // The writer's own failure, if any, is the same broken connection.
            await writing.ContinueWith(static _ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            throw;
        }

        chunks.Writer.TryComplete();
        await writing;
        // The other side learns of the end after the last byte, as it would through a network.
        to.Shutdown(SocketShutdown.Send);
    }

    private async Task WriteAsync(ChannelReader<(long Arrived, byte[] Bytes)> chunks, Socket to)
    {
        await foreach (var (arrived, bytes) in chunks.ReadAllAsync(_stop.Token))
        {
            var wait = _oneWay - _time.GetElapsedTime(arrived);
            if (wait > TimeSpan.Zero)
            {
                await Task.Delay(wait, _time, _stop.Token);
            }

            for (var sent = 0; sent < bytes.Length;)
            {
                sent += await to.SendAsync(bytes.AsMemory(sent), SocketFlags.None, _stop.Token);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Dispose();
        lock (_open)
        {
            foreach (var socket in _open)
            {
                socket.Dispose();
            }
        }

        await _accepting;
        _stop.Dispose();
    }
}
