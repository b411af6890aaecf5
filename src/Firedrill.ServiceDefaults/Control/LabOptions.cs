using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace Firedrill.ServiceDefaults.Control;

/// <summary>Lab mode: off by default. When on, <c>/_lab/config</c> exists for loopback callers with the token.</summary>
public sealed class LabOptions
{
    public const string SectionName = "Lab";

    public bool Enabled { get; set; }

    /// <summary>The per-run secret the lab hands each service; required when <see cref="Enabled"/>.</summary>
    public string? Token { get; set; }

    /// <summary>Identifies this process in logs and metrics (replica id); defaults to the machine name and pid.</summary>
    [MaxLength(64)]
    public string? InstanceId { get; set; }
}

[OptionsValidator]
internal sealed partial class LabOptionsValidator : IValidateOptions<LabOptions>;

internal sealed class LabOptionsTokenValidator : IValidateOptions<LabOptions>
{
    public const int MinimumTokenLength = 16;

    public ValidateOptionsResult Validate(string? name, LabOptions options) =>
        options.Enabled && (options.Token is null || options.Token.Length < MinimumTokenLength)
            ? ValidateOptionsResult.Fail(
                $"Lab:Enabled is true, so Lab:Token must be set to at least {MinimumTokenLength} characters (it has {options.Token?.Length ?? 0}).")
            : ValidateOptionsResult.Success;
}
