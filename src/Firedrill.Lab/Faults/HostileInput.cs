using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;
using Firedrill.Lab.Faults.Support;
using Firedrill.Lab.Fleet;
using Firedrill.Lab.Scenarios;

namespace Firedrill.Lab.Faults;

/// <summary>
/// Fault 11. Malformed and hostile input on every operation of the shop's OpenAPI document,
/// through the gateway and straight at a replica, while slow senders (slowloris) trickle requests
/// at the gateway and ordinary readers keep reading: every answer must be a 4xx, none a 5xx or an
/// admission, and no process may fall over.
/// </summary>
internal sealed class HostileInput : Fault
{
    private const int Concurrency = 6;

    public override int Number => 11;

    public override string Id => "hostile-input";

    public override string Title => "Malformed and hostile input on every operation";

    public override string Promise =>
        "Whatever a client sends, the answer is a 4xx problem document and the service stays up: no 5xx, no input admitted that the contract forbids, no slow sender holding the server (OWASP API Security Top 10 2023: API3 property-level authorization (mass assignment), API4 unrestricted resource consumption, API8 misconfiguration).";

    public override string Injects =>
        "For each operation of /openapi/v1.json: wrong types, out-of-range and 400-digit numbers, 64 KB strings, missing, unknown and duplicated fields, broken and 10,000-deep JSON, invalid UTF-8, wrong content types, broken chunked framing, oversized headers and bodies, too many headers, control characters in a key, unknown methods; through the gateway and straight at a replica; meanwhile slowloris connections trickling headers and bodies at the gateway.";

    public override string Audits =>
        "Every answer as it came off the wire (status, Content-Type): 5xx and admissions (2xx/3xx) count as lost; 4xx answers with a body that is not application/problem+json are counted; every process alive and ready afterwards; the readers' own record.";

    public override string Recovery => "None to time: the fleet must never go down. The slow senders' figure is how long the gateway let one hold a connection.";

    public override FleetOptions Fleet(FleetOptions defaults) => defaults with { Replicas = 2 };

    public override async Task<FaultOutcome> RunAsync(ScenarioContext context, CancellationToken cancellationToken)
    {
        var fleet = context.Fleet;
        var clock = new FaultClock(context.Time, Loads.Catalog, "hostile");
        using var stop = new CancellationTokenSource();
        using var reader = context.GatewayClient(TimeSpan.FromSeconds(5));
        var readers = Loads.ReadCatalogAsync(reader, clock, 20, TimeSpan.FromSeconds(90), TimeSpan.FromSeconds(3), stop.Token, cancellationToken);

        using var document = JsonDocument.Parse(await reader.GetStringAsync(new Uri("/api/openapi/v1.json", UriKind.Relative), cancellationToken));
        var operations = document.RootElement.GetProperty("paths").EnumerateObject().Sum(path => path.Value.EnumerateObject().Count());
        var shop = fleet.Shops[0];
        var inputs = HostileInputs.From(document.RootElement, "/api", 32 * 1024).Select(input => (Target: fleet.Gateway, Input: input))
            .Concat(HostileInputs.From(document.RootElement, "", 64 * 1024).Select(input => (Target: shop, Input: input)))
            .ToList();
        await Task.Delay(TimeSpan.FromSeconds(2), cancellationToken);

        clock.Enter("hostile input");
        var budget = context.Duration(TimeSpan.FromSeconds(40), TimeSpan.FromSeconds(20));
        var slowLimit = TimeSpan.FromSeconds(20);
        var slow = SlowSenders.RunAsync(fleet.Gateway.Address, headerSenders: 40, bodySenders: 10, slowLimit, cancellationToken);
        var answers = new ConcurrentBag<Answered>();
        clock.KeySignal = "hostile inputs answered per second";
        var sampling = Task.WhenAll(
            clock.SampleEveryAsync(clock.KeySignal, TimeSpan.FromSeconds(1), Probes.PerSecond(_ => Task.FromResult((double)answers.Count)), stop.Token),
            clock.SampleEveryAsync("of which 5xx or admitted", TimeSpan.FromSeconds(1), _ => Task.FromResult((double)answers.Count(a => a.Answer.Status is >= 200 and < 400 or >= 500)), stop.Token));
        var deadline = clock.Now + budget.TotalSeconds;
        await Parallel.ForEachAsync(inputs, new ParallelOptions { MaxDegreeOfParallelism = Concurrency, CancellationToken = cancellationToken }, async (item, token) =>
        {
            if (clock.Now > deadline)
            {
                return;
            }

            var started = System.Diagnostics.Stopwatch.GetTimestamp();
            var answer = await RawHttp.SendAsync(item.Target.Address, item.Input.Method, item.Input.Path, item.Input.Headers, item.Input.Body, TimeSpan.FromSeconds(15), token);
            clock.Record("hostile", started, answer.Status.ToString(CultureInfo.InvariantCulture), error: answer.Status >= 500);
            answers.Add(new Answered(item.Target.Name, item.Input, answer));
        });
        var slowSenders = await slow;
        clock.Enter(FaultClock.After);

        // Nothing fell over: every process runs and is ready.
        var down = new List<string>();
        foreach (var service in fleet.All)
        {
            if (service.HasExited || !await Probes.IsReadyAsync(service.Address, cancellationToken))
            {
                down.Add(service.Name);
            }
        }

        await Task.Delay(TimeSpan.FromSeconds(2), cancellationToken);
        await stop.CancelAsync();
        await Task.WhenAll(readers, sampling);

        var all = answers.ToList();
        var failed = all.Where(a => a.Answer.Status >= 500).ToList();
        var admitted = all.Where(a => a.Answer.Status is >= 200 and < 400).ToList();
        var unanswered = all.Where(a => a.Answer.Status == 0).ToList();
        var notProblem = all.Where(a => a.Answer.Status is >= 400 and < 500 && a.Answer.BodyBytes > 0 && !a.Answer.IsProblem).ToList();
        var bare = all.Where(a => a.Answer.Status is >= 400 and < 500 && a.Answer.BodyBytes == 0).ToList();
        Evidence(context, all, failed, admitted, unanswered, notProblem, bare, slowSenders);

        var load = clock.ToResult();
        var readerErrors = load.Endpoints[Loads.Catalog].Errors;
        var slowest = slowSenders.Count == 0 ? 0 : slowSenders.Max(s => s.CutAfterSeconds);
        return new FaultOutcome
        {
            Load = load,
            Clock = clock,
            Audited = all.Count,
            Lost = failed.Count + admitted.Count,
            Duplicated = 0,
            RecoverySeconds = null,
            Checks =
            [
                Verdict.EqualTo("answers 5xx", "during", failed.Count, 0),
                Verdict.EqualTo("hostile inputs admitted (2xx or 3xx)", "during", admitted.Count, 0),
                Verdict.EqualTo("inputs left without an answer", "during", unanswered.Count, 0),
                Verdict.EqualTo("4xx answers with a body that is not a problem document", "during", notProblem.Count, 0),
                Verdict.EqualTo("every input of every operation tried (1 = yes)", "during", all.Count == inputs.Count ? 1 : 0, 1),
                Verdict.EqualTo("slow senders the gateway never cut", "during", slowSenders.Count(s => !s.Cut), 0),
                Verdict.EqualTo("processes down or not ready afterwards", "audit", down.Count, 0),
                Verdict.EqualTo("ordinary reads that failed meanwhile", "during", readerErrors, 0),
            ],
            Figures = new Dictionary<string, double>
            {
                ["operations"] = operations,
                ["inputs"] = all.Count,
                ["answers_problem_json"] = all.Count(a => a.Answer.IsProblem),
                ["answers_bare_4xx"] = bare.Count,
                ["answers_400"] = all.Count(a => a.Answer.Status == 400),
                ["answers_404"] = all.Count(a => a.Answer.Status == 404),
                ["answers_405"] = all.Count(a => a.Answer.Status == 405),
                ["answers_413"] = all.Count(a => a.Answer.Status == 413),
                ["answers_415"] = all.Count(a => a.Answer.Status == 415),
                ["answers_431"] = all.Count(a => a.Answer.Status == 431),
                ["slow_senders"] = slowSenders.Count,
                ["slow_sender_longest_hold_s"] = Math.Round(slowest, 1),
                ["reader_p99_ms"] = Math.Round(load.Endpoints[Loads.Catalog].P99Ms, 1),
            },
            Summary = string.Create(CultureInfo.InvariantCulture,
                $"{all.Count} hostile inputs on {operations} operations: {failed.Count} answered 5xx, {admitted.Count} admitted, {all.Count(a => a.Answer.IsProblem)} answered with a problem document, {bare.Count} with a bare 4xx (Kestrel's own refusals); {slowSenders.Count} slow senders cut within {slowest:0.#} s; {down.Count} processes down."),
        };
    }

    private static void Evidence(ScenarioContext context, List<Answered> all,
        List<Answered> failed, List<Answered> admitted,
        List<Answered> unanswered, List<Answered> notProblem,
        List<Answered> bare, IReadOnlyList<SlowSender> slowSenders)
    {
        const string Command = "(the lab's raw HTTP client: each input sent byte for byte on its own connection)";
        context.Evidence.Add("Answers by operation: status counts", "during", Command, string.Join('\n', all
            .GroupBy(a => $"{a.Where,-8} {a.Input.Operation}")
            .OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => $"{g.Key,-50} {string.Join(", ", g.GroupBy(a => a.Answer.Status).OrderBy(s => s.Key).Select(s => $"{s.Key} ×{s.Count()}"))}")));
        context.Evidence.Add("Bare 4xx answers (no body: Kestrel refused the request before any middleware ran)", "during", Command,
            bare.Count == 0 ? "none" : string.Join('\n', bare.GroupBy(a => $"{a.Answer.Status} {a.Input.Label}").Select(g => $"{g.Key} ×{g.Count()}")));
        foreach (var (name, list) in new (string, List<Answered>)[] { ("Answered 5xx", failed), ("Admitted (2xx or 3xx)", admitted), ("Left without an answer", unanswered), ("4xx but not a problem document", notProblem) })
        {
            context.Evidence.Add(name, "during", Command, list.Count == 0 ? "none"
                : string.Join('\n', list.Select(a => $"{a.Answer.Status} {a.Where} {a.Input.Method} {Short(a.Input.Path)} — {a.Input.Label} {a.Answer.Error}")));
        }

        context.Evidence.Add("Slow senders (slowloris) at the gateway: how long each held a connection and how it ended", "during",
            "(the lab's slow senders: a header line or a body, one byte a second)",
            string.Join('\n', slowSenders.GroupBy(s => (s.Kind, s.Status, s.Cut)).Select(g => string.Create(CultureInfo.InvariantCulture,
                $"{g.Count()} trickling {g.Key.Kind}: {(g.Key.Cut ? $"cut by the gateway ({(g.Key.Status == 0 ? "closed" : g.Key.Status.ToString(CultureInfo.InvariantCulture))})" : "never cut")} after {g.Min(s => s.CutAfterSeconds):0.#}–{g.Max(s => s.CutAfterSeconds):0.#} s"))));
    }

    private sealed record Answered(string Where, HostileRequest Input, RawAnswer Answer);

    private static string Short(string path) => path.Length > 80 ? path[..80] + "…" : path;
}
