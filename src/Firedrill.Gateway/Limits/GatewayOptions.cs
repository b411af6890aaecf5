using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace Firedrill.Gateway.Limits;

/// <summary>
/// The limits a production edge puts on each request before it reaches a replica. Read per
/// request through <c>IOptionsMonitor</c>, so the lab can tighten or relax them at run time.
/// </summary>
public sealed class GatewayOptions
{
    public const string SectionName = "Gateway";

    /// <summary>
    /// Kestrel's own header limit is fixed when the server starts, so it is set to this ceiling
    /// and <see cref="MaxRequestHeadersTotalBytes"/> governs below it.
    /// </summary>
    public const int HeadersCeilingBytes = 256 * 1024;

    /// <summary>How long a client may take to send its request headers, as an edge bounds slow senders (nginx's client_header_timeout).</summary>
    public static readonly TimeSpan RequestHeadersTimeout = TimeSpan.FromSeconds(10);

    /// <summary>Header names and values together; a request over it gets 431.</summary>
    [Range(1024, HeadersCeilingBytes)]
    public int MaxRequestHeadersTotalBytes { get; set; } = 32 * 1024;

    /// <summary>A larger body gets 413, whether it declares a Content-Length or is chunked.</summary>
    [Range(typeof(long), "0", "1073741824")]
    public long MaxRequestBodyBytes { get; set; } = 1024 * 1024;

    /// <summary>
    /// How long the gateway waits for a replica before answering 504. At most YARP's default
    /// activity timeout (100 s), which would otherwise fire first with a different answer.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:01:40")]
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Sustained requests per second allowed from one client IP address.</summary>
    [Range(1, 1_000_000)]
    public int PermitsPerSecond { get; set; } = 1000;

    /// <summary>The most requests one client can send at once (the token bucket's size); at least <see cref="PermitsPerSecond"/>.</summary>
    [Range(1, 1_000_000)]
    public int Burst { get; set; } = 2000;
}

[OptionsValidator]
internal sealed partial class GatewayOptionsValidator : IValidateOptions<GatewayOptions>;

/// <summary>
/// The bucket is refilled with <see cref="GatewayOptions.PermitsPerSecond"/> tokens once a second,
/// so a smaller bucket would silently cap the sustained rate at <see cref="GatewayOptions.Burst"/>.
/// </summary>
internal sealed class GatewayRateLimitValidator : IValidateOptions<GatewayOptions>
{
    public ValidateOptionsResult Validate(string? name, GatewayOptions options) =>
        options.Burst < options.PermitsPerSecond
            ? ValidateOptionsResult.Fail(
                $"Gateway:Burst ({options.Burst}) must be at least Gateway:PermitsPerSecond ({options.PermitsPerSecond}).")
            : ValidateOptionsResult.Success;
}
