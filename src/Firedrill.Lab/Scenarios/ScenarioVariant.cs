namespace Firedrill.Lab.Scenarios;

/// <summary>
/// One hidden cause of an incident (SCENARIOS.md's variants): its name on the command line and
/// what it breaks, in a sentence. A scenario derives its own record from this one to carry what
/// differs between its variants — the settings of the broken phase, the environment fault, a
/// threshold — so a variant is a few lines beside the others, not a copy of the scenario.
/// </summary>
/// <param name="Name">kebab-case, as in SCENARIOS.md (<c>--variant NAME</c>).</param>
/// <param name="Summary">What this variant breaks, for <c>firedrill list</c> and the report.</param>
public record ScenarioVariant(string Name, string Summary);
