using Microsoft.Extensions.Options;

namespace Firedrill.ServiceDefaults.Health;

public sealed class HealthOptions
{
    public const string SectionName = "Health";

    /// <summary>
    /// <c>/health/live</c> also runs the dependency checks of <c>/health/ready</c>
    /// (<see cref="HealthEndpoints"/>' <c>DeepLiveness</c> predicate): the shallow-health-checks
    /// incident, variant deep-liveness. An orchestrator that restarts a process whose liveness fails
    /// then restarts every replica at once when a shared dependency blips. False (correct): liveness
    /// answers for the process alone.
    /// </summary>
    public bool LivenessChecksDependencies { get; set; }
}

/// <summary>A boolean binds or fails to bind; there is nothing more to check.</summary>
internal sealed class HealthOptionsValidator : IValidateOptions<HealthOptions>
{
    public ValidateOptionsResult Validate(string? name, HealthOptions options) => ValidateOptionsResult.Success;
}
