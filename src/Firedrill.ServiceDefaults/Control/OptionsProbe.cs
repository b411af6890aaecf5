using Microsoft.Extensions.Options;

namespace Firedrill.ServiceDefaults.Control;

/// <summary>
/// Reads one run-time options type, so the control endpoint can check an override before keeping
/// it: an invalid value is rolled back and answered with 400 instead of breaking later requests.
/// </summary>
internal sealed class OptionsProbe<TOptions>(IOptionsMonitor<TOptions> monitor) : IOptionsProbe
    where TOptions : class
{
    public string? Validate()
    {
        try
        {
            _ = monitor.CurrentValue;
            return null;
        }
        catch (Exception ex) when (ex is OptionsValidationException or InvalidOperationException)
        {
            // Invalid values, or values that don't bind to the option's type at all.
            return ex.Message;
        }
    }
}

internal interface IOptionsProbe
{
    /// <summary>Null when the current configuration binds and validates; otherwise why not.</summary>
    string? Validate();
}
