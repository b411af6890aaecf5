using System.Globalization;

namespace Firedrill.Lab.Tests.Support;

/// <summary>
/// How many fleets the incident lanes run at once: <c>FIREDRILL_TEST_FLEETS</c>, 1 unless set. A fleet
/// (gateway, replicas, inventory, Prometheus, load) takes both cores of a 2-core machine. Two side by
/// side passed on the machines of earlier runs, but on a slower one (a clean-clone run on 2026-12-02)
/// they pushed each other into timeouts that their clients' retries kept going: payments and catalog
/// reads failed for whole stages, job leases ran out, and eight tests failed that pass alone. Set it to
/// 2 on a machine with cores to spare.
/// </summary>
internal static class FleetSlots
{
    public const string Variable = "FIREDRILL_TEST_FLEETS";

    public static int Count { get; } = Parse(Environment.GetEnvironmentVariable(Variable));

    public static SemaphoreSlim Gate { get; } = new(Count, Count);

    internal static int Parse(string? value) =>
        string.IsNullOrWhiteSpace(value) ? 1
        : int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var count) && count is >= 1 and <= 8 ? count
        : throw new InvalidOperationException($"{Variable} must be a whole number from 1 to 8, not '{value}'.");
}
