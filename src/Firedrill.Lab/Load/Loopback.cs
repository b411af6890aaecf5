using System.Net;

namespace Firedrill.Lab.Load;

/// <summary>The lab only ever loads its own machine: a load generator pointed elsewhere is an attack.</summary>
internal static class Loopback
{
    public static bool IsLoopback(Uri uri)
    {
        if (!uri.IsAbsoluteUri || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            return false;
        }

        if (string.Equals(uri.IdnHost, "localhost", StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }

        if (!IPAddress.TryParse(uri.IdnHost, out var address))
        {
            return false;
        }

        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        return IPAddress.IsLoopback(address);
    }

    public static void Ensure(Uri? uri, string paramName)
    {
        if (uri is null || !IsLoopback(uri))
        {
            var host = uri is null ? "no base address" : uri.IsAbsoluteUri ? $"'{uri.Host}'" : $"'{uri}' (not absolute)";
            throw new ArgumentException(
                $"The load generator only targets loopback (127.0.0.0/8, ::1, localhost over http/https); {host} is not.", paramName);
        }
    }
}
