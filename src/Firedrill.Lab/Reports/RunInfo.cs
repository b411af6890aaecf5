namespace Firedrill.Lab.Reports;

/// <summary>What the report's header says about the run: which, when, where, how it was started, and whether phases were shortened.</summary>
/// <param name="Machine">What the numbers were measured on, e.g. <c>2 cores</c>.</param>
/// <param name="Command">The command line as typed, so the run can be repeated.</param>
/// <param name="Quick">Shortened phases: good for a smoke run, noisier numbers.</param>
public sealed record RunInfo(string RunId, DateTimeOffset StartedAt, string Machine, string Command, bool Quick);
