// The floor of a .NET client on this machine, the third side of the load-generator benchmark:
// one connection, one request at a time, a 1 ms pause after each answer (as wrk's paced script),
// latency from the send to the end of the body, kept in a plain list. No schedule, no timeouts, no
// histograms: what any .NET client pays here, so the gap between `firedrill load` and wrk splits
// into the runtime's part and the generator's own.
//   Firedrill.Bench.Probe http|socket URL SECONDS WARMUP_SECONDS
//     http    HttpClient (SocketsHttpHandler) awaited, as the generator sends
//     socket  a blocking Socket writing the request bytes and reading the answer: no HttpClient, no async
// Prints one line: {"requests":N,"p50Ms":X,"p99Ms":Y}.
using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;

if (args.Length != 4 || args[0] is not ("http" or "socket") || !Uri.TryCreate(args[1], UriKind.Absolute, out var url)
    || !int.TryParse(args[2], CultureInfo.InvariantCulture, out var seconds) || !int.TryParse(args[3], CultureInfo.InvariantCulture, out var warmup))
{
    Console.Error.WriteLine("usage: Firedrill.Bench.Probe http|socket URL SECONDS WARMUP_SECONDS");
    return 2;
}

var latencies = new List<double>(seconds * 2_000);
Func<Task> send = args[0] == "http" ? HttpSender(url) : SocketSender(url);
await Measure(TimeSpan.FromSeconds(warmup), null);
await Measure(TimeSpan.FromSeconds(seconds), latencies);
latencies.Sort();
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $$"""{"requests":{{latencies.Count}},"p50Ms":{{Percentile(0.50):0.000}},"p99Ms":{{Percentile(0.99):0.000}}}"""));
return 0;

async Task Measure(TimeSpan duration, List<double>? into)
{
    var watch = Stopwatch.StartNew();
    while (watch.Elapsed < duration)
    {
        var start = Stopwatch.GetTimestamp();
        await send();
        into?.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);

        // Off whatever thread completed the answer (the socket engine's, with inline completions),
        // then a 1 ms sleep: Task.Delay(1) waits about 4 ms here, which would change the rate.
        await Task.Run(static () => Thread.Sleep(1));
    }
}

double Percentile(double p) => latencies.Count == 0 ? 0 : latencies[Math.Min(latencies.Count - 1, (int)(latencies.Count * p))];

static Func<Task> HttpSender(Uri url)
{
    var client = new HttpClient(new SocketsHttpHandler { UseProxy = false, UseCookies = false });
    return async () =>
    {
        using var response = await client.GetAsync(url, HttpCompletionOption.ResponseHeadersRead);
        await response.Content.CopyToAsync(Stream.Null);
        response.EnsureSuccessStatusCode();
    };
}

static Func<Task> SocketSender(Uri url)
{
    var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
    socket.Connect(url.Host, url.Port);
    var request = Encoding.ASCII.GetBytes($"GET {url.PathAndQuery} HTTP/1.1\r\nHost: {url.Authority}\r\n\r\n");
    var buffer = new byte[64 * 1024];
    return () =>
    {
        socket.Send(request);
        var length = 0;
        while (!IsComplete(buffer.AsSpan(0, length)))
        {
            var read = socket.Receive(buffer, length, buffer.Length - length, SocketFlags.None);
            length += read > 0 ? read : throw new IOException("the server closed the connection");
        }

        return Task.CompletedTask;
    };
}

// An answer is complete at its chunked terminator, or when Content-Length bytes follow the headers.
static bool IsComplete(ReadOnlySpan<byte> answer)
{
    var headersEnd = answer.IndexOf("\r\n\r\n"u8);
    if (headersEnd < 0)
    {
        return false;
    }

    if (answer.EndsWith("\r\n0\r\n\r\n"u8))
    {
        return true;
    }

    var contentLength = Encoding.ASCII.GetString(answer[..headersEnd]).Split("\r\n")
        .FirstOrDefault(header => header.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase));
    return contentLength is not null && answer.Length >= headersEnd + 4 + int.Parse(contentLength[15..].Trim(), CultureInfo.InvariantCulture);
}
