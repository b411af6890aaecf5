using System.Net;
using System.Net.Sockets;

namespace Firedrill.Lab.Fleet;

/// <summary>
/// Where a fleet's services listen. Scenario runs and tests take any free port (several fleets may
/// run at once); <c>firedrill up</c> uses a plan of well-known ports, so the gateway is at
/// http://127.0.0.1:8080/ today and tomorrow, and bookmarks, scripts and curl commands keep working.
/// </summary>
public sealed record PortPlan(int Gateway, int Inventory, int Prometheus, int PostgresExporter, int FirstReplica)
{
    /// <summary>Gateway 8080, Prometheus 9090, postgres_exporter 9187, inventory 5090, replicas from 5101.</summary>
    public static readonly PortPlan Defaults = new(8080, 5090, 9090, 9187, 5101);

    /// <summary><c>--port-base N</c>: gateway N, inventory N+1, Prometheus N+2, postgres_exporter N+3, replicas from N+11.</summary>
    public static PortPlan From(int portBase)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(portBase, 1024);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(portBase, 65535 - 20);
        return new(portBase, portBase + 1, portBase + 2, portBase + 3, portBase + 11);
    }
}

/// <summary>Finds loopback ports to listen on.</summary>
internal static class LoopbackPorts
{
    /// <summary>Any port free right now (the operating system's choice).</summary>
    public static int Free()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>
    /// <paramref name="preferred"/> if it is free and not already <paramref name="taken"/> by this
    /// fleet, otherwise the next free port above it; a move is reported, naming the service.
    /// </summary>
    public static int Claim(int preferred, string service, ISet<int> taken, IProgress<string>? notes)
    {
        for (var port = preferred; port <= Math.Min(preferred + 100, 65535); port++)
        {
            if (!taken.Contains(port) && IsFree(port))
            {
                if (port != preferred)
                {
                    notes?.Report($"{service}: port {preferred} is taken, using {port}");
                }

                taken.Add(port);
                return port;
            }
        }

        throw new InvalidOperationException($"{service}: no free port from {preferred} to {preferred + 100}; choose another --port-base");
    }

    private static bool IsFree(int port)
    {
        try
        {
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
