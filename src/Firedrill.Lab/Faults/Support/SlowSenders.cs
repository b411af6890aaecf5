using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Firedrill.Lab.Faults.Support;

/// <summary>What happened to one slow sender: when the server cut it (seconds after it connected) and how.</summary>
internal sealed record SlowSender(string Kind, double CutAfterSeconds, int Status, bool Cut);

/// <summary>
/// Slowloris: connections that trickle a request (a header line, or a body, one byte a second)
/// to hold the server's connections and threads. A server that survives them cuts each one after
/// its own timeout; the senders give up at <c>limit</c>, so the attack is bounded too.
/// </summary>
internal static class SlowSenders
{
    public static async Task<IReadOnlyList<SlowSender>> RunAsync(Uri target, int headerSenders, int bodySenders, TimeSpan limit, CancellationToken cancellationToken)
    {
        RawHttp.EnsureLoopback(target);
        var host = $"Host: 127.0.0.1:{target.Port}\r\n";
        var senders = Enumerable.Range(0, headerSenders)
            .Select(i => TrickleAsync(target, "headers", "GET /api/products/1 HTTP/1.1\r\n" + host, Encoding.ASCII.GetBytes($"X-Slow-{i}: " + new string('a', 600)), limit, cancellationToken))
            .Concat(Enumerable.Range(0, bodySenders).Select(_ => TrickleAsync(target, "body",
                "POST /api/orders HTTP/1.1\r\n" + host + "Content-Type: application/json\r\nContent-Length: 600\r\n\r\n", Encoding.ASCII.GetBytes(new string(' ', 600)), limit, cancellationToken)));
        return await Task.WhenAll(senders);
    }

    private static async Task<SlowSender> TrickleAsync(Uri target, string kind, string opening, byte[] trickle, TimeSpan limit, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        using var bound = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bound.CancelAfter(limit);
        try
        {
            await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, target.Port), bound.Token);
            await socket.SendAsync(Encoding.ASCII.GetBytes(opening), SocketFlags.None, bound.Token);
            var answer = ReadAsync(socket, bound.Token);
            foreach (var b in trickle)
            {
                if (answer.IsCompleted)
                {
                    break;
                }

                await socket.SendAsync(new[] { b }, SocketFlags.None, bound.Token);
                await Task.WhenAny(answer, Task.Delay(TimeSpan.FromSeconds(1), bound.Token));
            }

            var status = await answer;
            return new SlowSender(kind, Stopwatch.GetElapsedTime(started).TotalSeconds, status, Cut: true);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new SlowSender(kind, Stopwatch.GetElapsedTime(started).TotalSeconds, 0, Cut: false);
        }
        catch (SocketException)
        {
            // Reset by the server: cut.
            return new SlowSender(kind, Stopwatch.GetElapsedTime(started).TotalSeconds, 0, Cut: true);
        }
    }

    /// <summary>The status of whatever the server sent before closing (0: closed without a word).</summary>
    private static async Task<int> ReadAsync(Socket socket, CancellationToken cancellationToken)
    {
        var answer = await RawHttp.ReadAnswerAsync(socket, cancellationToken);
        return answer.Status;
    }
}
