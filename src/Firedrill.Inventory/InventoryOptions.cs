using System.ComponentModel.DataAnnotations;
using Firedrill.ServiceDefaults.Options;
using Microsoft.Extensions.Options;

namespace Firedrill.Inventory;

/// <summary>
/// The stock this stand-in starts with, and the knobs the lab turns to make it a bad dependency:
/// slow (<see cref="LatencyMs"/>), failing (<see cref="ErrorRate"/>) or saturated
/// (<see cref="MaxConcurrentRequests"/>). Everything but the seed is read per request, so
/// <c>/_lab/config</c> changes it without a restart.
/// </summary>
public sealed class InventoryOptions
{
    public const string SectionName = "Inventory";

    /// <summary>The SKU format has six digits (<c>SKU-000001</c>), as the shop seeds it.</summary>
    public const int MaxSkus = 999_999;

    public const int MaxLatencyMs = 600_000;

    /// <summary>How many SKUs exist (<c>SKU-000001</c> ..). Read once, at start.</summary>
    [Range(1, MaxSkus)]
    public int Skus { get; set; } = 1000;

    /// <summary>Units of each SKU at start. Read once, at start.</summary>
    [Range(0, 1_000_000_000)]
    public int InitialStock { get; set; } = 1_000_000;

    /// <summary>Latency added to every <c>/inventory</c> request, in milliseconds (the mean for the random distributions).</summary>
    [Range(0, MaxLatencyMs)]
    public int LatencyMs { get; set; }

    [EnumDataType(typeof(LatencyDistribution))]
    public LatencyDistribution LatencyDistribution { get; set; } = LatencyDistribution.Fixed;

    /// <summary>No single added delay exceeds this: it bounds the exponential distribution's tail.</summary>
    [Range(1, MaxLatencyMs)]
    public int LatencyMaxMs { get; set; } = 30_000;

    /// <summary>
    /// The fraction of <c>/inventory</c> requests the latency applies to; the others are not
    /// delayed. 0.5 with a 5 s latency is a dependency slow on half its calls.
    /// </summary>
    [Range(0.0, 1.0)]
    public double LatencyRate { get; set; } = 1.0;

    /// <summary>The fraction of <c>/inventory</c> requests answered 503, after the latency.</summary>
    [Range(0.0, 1.0)]
    public double ErrorRate { get; set; }

    /// <summary>Requests served at once (latency included); the rest queue. Zero: unlimited.</summary>
    [Range(0, 100_000)]
    public int MaxConcurrentRequests { get; set; }

    /// <summary>Requests that may wait for <see cref="MaxConcurrentRequests"/>; beyond it they get 503 at once.</summary>
    [Range(0, 1_000_000)]
    public int QueueLimit { get; set; } = 10_000;
}

public enum LatencyDistribution
{
    /// <summary>Always <see cref="InventoryOptions.LatencyMs"/>.</summary>
    Fixed,

    /// <summary>Evenly between half and one and a half times <see cref="InventoryOptions.LatencyMs"/>.</summary>
    Uniform,

    /// <summary>Exponential with mean <see cref="InventoryOptions.LatencyMs"/>: mostly fast, with a long tail.</summary>
    Exponential,
}

[OptionsValidator]
internal sealed partial class InventoryOptionsValidator : IValidateOptions<InventoryOptions>;

/// <summary>A cap below the latency would silently shorten every delay; say so instead.</summary>
internal sealed class InventoryLatencyCapValidator : IValidateOptions<InventoryOptions>
{
    public ValidateOptionsResult Validate(string? name, InventoryOptions options) =>
        options.LatencyMs > options.LatencyMaxMs
            ? ValidateOptionsResult.Fail(
                $"Inventory:LatencyMs ({options.LatencyMs}) must not exceed Inventory:LatencyMaxMs ({options.LatencyMaxMs}).")
            : ValidateOptionsResult.Success;
}

internal static class InventoryOptionsExtensions
{
    public static IServiceCollection AddInventoryOptions(this IServiceCollection services)
    {
        services.AddRuntimeOptions<InventoryOptions, InventoryOptionsValidator>(InventoryOptions.SectionName);
        services.AddSingleton<IValidateOptions<InventoryOptions>, InventoryLatencyCapValidator>();
        return services;
    }
}
