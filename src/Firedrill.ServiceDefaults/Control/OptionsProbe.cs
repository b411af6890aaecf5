using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace Firedrill.ServiceDefaults.Control;

/// <summary>
/// Checks one run-time options type against configuration, so the control endpoint can refuse an
/// override before it is applied (400) instead of letting a request read an invalid value.
/// </summary>
internal sealed class OptionsProbe<TOptions>(string section, IEnumerable<IValidateOptions<TOptions>> validators, IOptionsMonitor<TOptions> monitor)
    : IConfigurationCheck
    where TOptions : class, new()
{
    /// <summary>Binds a fresh instance from <paramref name="candidate"/> and runs the option's validators on it.</summary>
    public ValueTask<string?> CheckAsync(IConfiguration candidate, CancellationToken cancellationToken)
    {
        var options = new TOptions();
        try
        {
            candidate.GetSection(section).Bind(options);
        }
        catch (InvalidOperationException ex)
        {
            // A value that does not bind to the option's type at all ("banana" for a number).
            return ValueTask.FromResult<string?>(ex.InnerException?.Message is { } inner ? $"{ex.Message} {inner}" : ex.Message);
        }

        var failures = validators.Select(validator => validator.Validate(Microsoft.Extensions.Options.Options.DefaultName, options))
            .Where(result => result.Failed).SelectMany(result => result.Failures ?? []).ToList();
        return ValueTask.FromResult(failures.Count == 0 ? null : string.Join(" ", failures));
    }

    /// <summary>After applying: the options as the app now reads them, null when they bind and validate.</summary>
    public string? CheckCurrent()
    {
        try
        {
            _ = monitor.CurrentValue;
            return null;
        }
        catch (Exception ex) when (ex is OptionsValidationException or InvalidOperationException)
        {
            return ex.Message;
        }
    }
}

/// <summary>
/// Something that must accept configuration before <c>/_lab/config</c> applies it: the run-time
/// options, or a component with rules of its own (the gateway's YARP configuration).
/// </summary>
public interface IConfigurationCheck
{
    /// <summary>Null when <paramref name="candidate"/> (the configuration as it would be) is acceptable; otherwise why not.</summary>
    ValueTask<string?> CheckAsync(IConfiguration candidate, CancellationToken cancellationToken);

    /// <summary>After the overrides were applied, a last look at the live configuration (null: fine).</summary>
    string? CheckCurrent() => null;
}
