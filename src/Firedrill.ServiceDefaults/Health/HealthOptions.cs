using System.ComponentModel.DataAnnotations;
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

    /// <summary>
    /// How long a dependency check's result answers for the readiness endpoint (<see cref="CachedHealthCheck"/>):
    /// the gateway, an orchestrator and a load balancer may all probe every second, and during an outage
    /// each probe would otherwise wait its own timeout on the dependency. Short, so a replica leaves
    /// and rejoins rotation within a probe or two. Zero: every probe runs the checks.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:01:00")]
    public TimeSpan ReadinessCacheTtl { get; set; } = TimeSpan.FromMilliseconds(500);
}

[OptionsValidator]
internal sealed partial class HealthOptionsValidator : IValidateOptions<HealthOptions>;
