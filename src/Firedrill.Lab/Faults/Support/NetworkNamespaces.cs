using System.Diagnostics;
using System.Globalization;

namespace Firedrill.Lab.Faults.Support;

/// <summary>
/// Two network namespaces of the fault's own, joined by a veth pair created directly inside them
/// (10.213.N.1 and .2, a /30): a server side and a client side, each with its own loopback. Traffic
/// between them never touches the machine's interfaces or addresses. Deleted on dispose (which
/// removes the veth pair with them). Null where the sandbox forbids <c>ip netns add</c>.
/// </summary>
internal sealed class NetworkNamespaces : IAsyncDisposable
{
    private NetworkNamespaces(string server, string client, string serverAddress, string clientAddress) =>
        (Server, Client, ServerAddress, ClientAddress) = (server, client, serverAddress, clientAddress);

    public string Server { get; }

    public string Client { get; }

    public string ServerAddress { get; }

    public string ClientAddress { get; }

    /// <summary>The commands that built the pair, as a user would type them.</summary>
    public IReadOnlyList<string> Commands { get; private init; } = [];

    public static async Task<NetworkNamespaces?> TryCreateAsync(CancellationToken cancellationToken)
    {
        var id = (Environment.ProcessId % 10000).ToString("0000", CultureInfo.InvariantCulture) + Random.Shared.Next(100, 999).ToString(CultureInfo.InvariantCulture);
        var subnet = Random.Shared.Next(0, 64) * 4;
        var (server, client) = ($"fd-srv-{id}", $"fd-cli-{id}");
        var (serverAddress, clientAddress) = ($"10.213.{subnet / 4 % 256}.1", $"10.213.{subnet / 4 % 256}.2");
        if (await RunAsync(["ip", "netns", "add", server], cancellationToken) != 0)
        {
            return null;
        }

        var pair = new NetworkNamespaces(server, client, serverAddress, clientAddress);
        string[][] steps =
        [
            ["ip", "netns", "add", client],
            ["ip", "link", "add", "name", $"fdv{id}a", "netns", server, "type", "veth", "peer", "name", $"fdv{id}b", "netns", client],
            ["ip", "-n", server, "addr", "add", $"{serverAddress}/30", "dev", $"fdv{id}a"],
            ["ip", "-n", client, "addr", "add", $"{clientAddress}/30", "dev", $"fdv{id}b"],
            ["ip", "-n", server, "link", "set", "lo", "up"],
            ["ip", "-n", server, "link", "set", $"fdv{id}a", "up"],
            ["ip", "-n", client, "link", "set", "lo", "up"],
            ["ip", "-n", client, "link", "set", $"fdv{id}b", "up"],
        ];
        foreach (var step in steps)
        {
            if (await RunAsync(step, cancellationToken) != 0)
            {
                await pair.DisposeAsync();
                return null;
            }
        }

        return new NetworkNamespaces(server, client, serverAddress, clientAddress)
        {
            Commands = [$"ip netns add {server}", .. steps.Select(step => string.Join(' ', step))],
        };
    }

    /// <summary>A process started inside <paramref name="ns"/> (<c>ip netns exec</c> execs into it, so the pid is the program's).</summary>
    public static Process Start(string ns, string program, IEnumerable<string> arguments, IReadOnlyDictionary<string, string> environment, string workingDirectory)
    {
        var start = new ProcessStartInfo("ip", ["netns", "exec", ns, program, .. arguments])
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }

        return Process.Start(start) ?? throw new InvalidOperationException($"could not start {program} in {ns}");
    }

    /// <summary>Runs a command inside <paramref name="ns"/> and returns what it printed (the lab's own probe, not evidence).</summary>
    public static async Task<string> OutputAsync(string ns, IEnumerable<string> command, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo("ip", ["netns", "exec", ns, .. command]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        return await output;
    }

    private static async Task<int> RunAsync(IEnumerable<string> command, CancellationToken cancellationToken)
    {
        var words = command.ToList();
        var start = new ProcessStartInfo(words[0], words.Skip(1)) { RedirectStandardOutput = true, RedirectStandardError = true };
        try
        {
            using var process = Process.Start(start)!;
            await process.WaitForExitAsync(cancellationToken);
            return process.ExitCode;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return -1;
        }
    }

    public async ValueTask DisposeAsync()
    {
        // Deleting a namespace deletes the veth end inside it, and with it its peer.
        await RunAsync(["ip", "netns", "del", Client], CancellationToken.None);
        await RunAsync(["ip", "netns", "del", Server], CancellationToken.None);
    }
}
