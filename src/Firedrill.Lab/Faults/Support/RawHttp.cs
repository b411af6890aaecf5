using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Firedrill.Lab.Faults.Support;

/// <summary>An answer as it came off the wire; status 0 when the server closed without answering.</summary>
internal sealed record RawAnswer(int Status, string? ContentType, long BodyBytes, string? Error)
{
    public bool IsProblem => ContentType?.StartsWith("application/problem+json", StringComparison.OrdinalIgnoreCase) == true;
}

/// <summary>
/// HTTP/1.1 written by hand on a loopback socket, one request per connection: the request goes
/// out byte for byte as given (no client normalises its path, encodes its headers or refuses its
/// body), which is what an attacker's tool does.
/// </summary>
internal static class RawHttp
{
    private const int MaxAnswerBytes = 256 * 1024;

    /// <param name="target">Loopback only.</param>
    /// <param name="headers">Header lines without CRLF; Host and Connection: close are added.</param>
    public static async Task<RawAnswer> SendAsync(Uri target, string method, string path, IEnumerable<string> headers, byte[]? body, TimeSpan timeout,
        CancellationToken cancellationToken)
    {
        EnsureLoopback(target);
        using var bound = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bound.CancelAfter(timeout);
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, target.Port), bound.Token);
            var head = new StringBuilder()
                .Append(CultureInfo.InvariantCulture, $"{method} {path} HTTP/1.1\r\n")
                .Append(CultureInfo.InvariantCulture, $"Host: 127.0.0.1:{target.Port}\r\n")
                .Append("Connection: close\r\n");
            foreach (var header in headers)
            {
                head.Append(header).Append("\r\n");
            }

            if (body is not null && !headers.Any(h => h.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase) || h.StartsWith("Transfer-Encoding:", StringComparison.OrdinalIgnoreCase)))
            {
                head.Append(CultureInfo.InvariantCulture, $"Content-Length: {body.Length}\r\n");
            }

            head.Append("\r\n");
            await socket.SendAsync(Encoding.Latin1.GetBytes(head.ToString()), SocketFlags.None, bound.Token);
            if (body is { Length: > 0 })
            {
                try
                {
                    await socket.SendAsync(body, SocketFlags.None, bound.Token);
                }
                catch (SocketException)
                {
                    // A server may answer (413) and close before the whole body is sent: read its answer.
                }
            }

            return await ReadAnswerAsync(socket, bound.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new RawAnswer(0, null, 0, "no answer within " + timeout.TotalSeconds.ToString("0.#", CultureInfo.InvariantCulture) + " s");
        }
        catch (SocketException ex)
        {
            return new RawAnswer(0, null, 0, ex.SocketErrorCode.ToString());
        }
    }

    /// <summary>Reads until the server closes (Connection: close) or the cap, then parses the status line and headers.</summary>
    public static async Task<RawAnswer> ReadAnswerAsync(Socket socket, CancellationToken cancellationToken)
    {
        var received = new MemoryStream();
        var buffer = new byte[16 * 1024];
        try
        {
            int read;
            while (received.Length < MaxAnswerBytes && (read = await socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken)) > 0)
            {
                received.Write(buffer, 0, read);
            }
        }
        catch (SocketException) when (received.Length > 0)
        {
            // Reset after the answer: the answer counts.
        }
        catch (SocketException ex)
        {
            return new RawAnswer(0, null, 0, ex.SocketErrorCode.ToString());
        }

        return Parse(received.ToArray());
    }

    public static RawAnswer Parse(byte[] raw)
    {
        var text = Encoding.Latin1.GetString(raw);
        var end = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        if (raw.Length == 0 || end < 0 || !text.StartsWith("HTTP/1.", StringComparison.Ordinal))
        {
            return new RawAnswer(0, null, 0, raw.Length == 0 ? "closed without an answer" : "not an HTTP answer");
        }

        var lines = text[..end].Split("\r\n");
        var status = int.Parse(lines[0].Split(' ')[1], CultureInfo.InvariantCulture);
        var contentType = lines.Skip(1).Select(line => line.Split(':', 2)).Where(pair => pair.Length == 2 && pair[0].Trim().Equals("Content-Type", StringComparison.OrdinalIgnoreCase))
            .Select(pair => pair[1].Trim()).FirstOrDefault();
        return new RawAnswer(status, contentType, raw.Length - end - 4, null);
    }

    public static void EnsureLoopback(Uri target)
    {
        if (!IPAddress.TryParse(target.Host, out var address) || !IPAddress.IsLoopback(address))
        {
            throw new ArgumentException($"the faults only target loopback; {target.Host} is not", nameof(target));
        }
    }
}
