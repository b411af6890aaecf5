using Microsoft.Extensions.Options;

namespace Firedrill.Gateway.Routing;

/// <summary>
/// The destinations of YARP's clusters, bound from its <c>ReverseProxy</c> section only to be
/// validated: a destination the lab writes through <c>/_lab/config</c> that is not an absolute
/// http(s) URL is refused (400) and rolled back, instead of YARP failing every request sent to it.
/// </summary>
internal sealed class ProxyDestinationsOptions
{
    public const string SectionName = "ReverseProxy";

    public Dictionary<string, ClusterDestinations> Clusters { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    internal sealed class ClusterDestinations
    {
        public Dictionary<string, Destination> Destinations { get; set; } = new(StringComparer.OrdinalIgnoreCase);
    }

    internal sealed class Destination
    {
        public string? Address { get; set; }
    }
}

internal sealed class ProxyDestinationsValidator : IValidateOptions<ProxyDestinationsOptions>
{
    public ValidateOptionsResult Validate(string? name, ProxyDestinationsOptions options)
    {
        var failures = (
            from cluster in options.Clusters
            from destination in cluster.Value.Destinations
            where !IsHttpUrl(destination.Value.Address)
            select $"{ProxyDestinationsOptions.SectionName}:Clusters:{cluster.Key}:Destinations:{destination.Key}:Address " +
                $"must be an absolute http or https URL (it is '{destination.Value.Address}').").ToList();
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static bool IsHttpUrl(string? address) =>
        Uri.TryCreate(address, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps);
}
