using System.Globalization;
using System.Text;
using System.Text.Json;
using Firedrill.Lab.Faults.Support;
using Firedrill.Lab.Fleet;
using Firedrill.Lab.Scenarios;
using Firedrill.ServiceDefaults.Control;

namespace Firedrill.Lab.Faults;

/// <summary>
/// Fault 12. The control plane, <c>/_lab/config</c>, tried from where it must refuse: without a
/// token, with wrong ones, from an address that is not loopback (a network namespace pair of the
/// fault's own), and through the gateway with the right token under every spelling of the path.
/// Every attempt carries a probe key; afterwards each service's overrides are read back.
/// </summary>
internal sealed partial class ControlPlane : Fault
{
    private const string ProbePrefix = "FaultProbe:";

    public override int Number => 12;

    public override string Id => "control-plane";

    public override string Title => "The control plane from where it must refuse";

    public override string Promise =>
        "/_lab/config answers only a loopback caller presenting the run's token, and never through the gateway, whatever the path's spelling (OWASP API Security Top 10 2023: API5 broken function level authorization, API8 security misconfiguration).";

    public override string Injects =>
        "Requests to every service's /_lab/config without a token, with wrong tokens and alternate spellings; from a non-loopback address (the inventory service run inside a network namespace pair of the fault's own, or the endpoint in process when the sandbox forbids namespaces); and through the gateway with the right token, percent-encoded, double-encoded, dot-segmented, with extra slashes.";

    public override string Audits =>
        "Every answer (a 2xx is an admission, a 5xx a failure: both count as lost) and, afterwards, each service's overrides read back with the token: no probe key any attempt tried to set may be there.";

    public override string Recovery => "None to time: nothing is broken, each attempt is refused or it is not.";

    public override FleetOptions Fleet(FleetOptions defaults) => defaults with { Replicas = 2 };

    public override async Task<FaultOutcome> RunAsync(ScenarioContext context, CancellationToken cancellationToken)
    {
        var fleet = context.Fleet;
        var clock = new FaultClock(context.Time, Loads.Catalog, "control");
        using var stop = new CancellationTokenSource();
        using var reader = context.GatewayClient(TimeSpan.FromSeconds(5));
        var background = Loads.ReadCatalogAsync(reader, clock, 20, TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(2), stop.Token, cancellationToken);
        await Task.Delay(TimeSpan.FromSeconds(2), cancellationToken);

        clock.KeySignal = "attempts on the control plane per second";
        var sampling = Task.WhenAll(
            clock.SampleEveryAsync(clock.KeySignal, TimeSpan.FromSeconds(1), Probes.PerSecond(_ => Task.FromResult((double)clock.ToCount("control"))), stop.Token),
            clock.SampleEveryAsync("of which admitted or 5xx", TimeSpan.FromSeconds(1), _ => Task.FromResult((double)clock.ToErrors("control")), stop.Token));
        clock.Enter("attempts");
        var attempts = new List<Attempt>();
        var services = new[] { fleet.Gateway, fleet.Shops[0], fleet.Inventory };
        foreach (var service in services)
        {
            attempts.AddRange(await DirectAsync(service, fleet.Token, clock, cancellationToken));
        }

        attempts.AddRange(await ThroughGatewayAsync(fleet.Gateway, fleet.Token, clock, cancellationToken));
        var outside = await FromOutsideAsync(context, cancellationToken);
        attempts.AddRange(outside.Attempts);

        // The control: the endpoint exists and takes the token from loopback, so the refusals above are the guard's.
        var controls = 0;
        foreach (var service in services)
        {
            controls += await ControlAcceptedAsync(service, fleet.Token, cancellationToken) ? 1 : 0;
        }

        clock.Enter(FaultClock.After);
        var probes = 0;
        foreach (var service in services)
        {
            probes += (await OverridesAsync(service, fleet.Token, cancellationToken)).Keys.Count(key => key.StartsWith(ProbePrefix, StringComparison.OrdinalIgnoreCase)
                && !key.EndsWith(":control", StringComparison.OrdinalIgnoreCase));
        }

        await Task.Delay(TimeSpan.FromSeconds(2), cancellationToken);
        await stop.CancelAsync();
        await Task.WhenAll(background, sampling);

        foreach (var service in services)
        {
            context.Evidence.Add($"Straight at {service.Name}: each attempt and its answer", "during", "(the lab's raw HTTP client: one request per connection, sent byte for byte)",
                string.Join('\n', attempts.Where(a => a.Label.StartsWith($"{service.Name} direct", StringComparison.Ordinal))
                    .Select(a => $"{a.Answer.Status,3} {(a.Answer.IsProblem ? "problem" : "       ")} {a.Label}")));
        }

        context.Evidence.Add("Through the gateway with the right token: each path and its answers (PUT and GET, two spellings of the header)", "during",
            "(the lab's raw HTTP client, e.g. printf 'PUT /api/%255Flab/config HTTP/1.1\\r\\nHost: gateway\\r\\nX-Lab-Token: ...' | nc 127.0.0.1 PORT)",
            string.Join('\n', attempts.Where(a => a.Label.StartsWith("gateway proxy", StringComparison.Ordinal))
                .GroupBy(a => a.Label.Split(' ')[3])
                .Select(g => $"{string.Join(' ', g.Select(a => a.Answer.Status))}  {g.Key}")));
        foreach (var service in services)
        {
            await context.Evidence.ShellAsync($"{service.Name}'s overrides afterwards, read with the token", "audit",
                $"curl -s -H \"X-Lab-Token: $TOKEN\" {service.Address}_lab/config", new Dictionary<string, string> { ["TOKEN"] = fleet.Token }, cancellationToken: cancellationToken);
        }

        var admitted = attempts.Count(a => a.Answer.Status is >= 200 and < 300);
        var failed = attempts.Count(a => a.Answer.Status >= 500);
        var unanswered = attempts.Count(a => a.Answer.Status == 0);
        var load = clock.ToResult();
        return new FaultOutcome
        {
            Load = load,
            Clock = clock,
            Audited = attempts.Count,
            Lost = admitted + failed + probes,
            Duplicated = 0,
            RecoverySeconds = null,
            Checks =
            [
                Verdict.EqualTo("attempts admitted (2xx)", "during", admitted, 0),
                Verdict.EqualTo("attempts answered 5xx", "during", failed, 0),
                Verdict.EqualTo("probe keys found in any service's overrides", "audit", probes, 0),
                Verdict.EqualTo("refused from a non-loopback address with the right token", "during", outside.RefusedWithToken, outside.TriedWithToken),
                Verdict.Above("attempts from a non-loopback address", "during", outside.TriedWithToken, 0),
                Verdict.EqualTo("services that accept the token from loopback (the control)", "during", controls, services.Length),
                Verdict.EqualTo("catalog reads failed meanwhile", FaultClock.After, load.Total.Errors, 0),
            ],
            Figures = new Dictionary<string, double>
            {
                ["attempts"] = attempts.Count,
                ["through_gateway_with_token"] = attempts.Count(a => a.Label.StartsWith("gateway proxy", StringComparison.Ordinal)),
                ["from_non_loopback"] = outside.Attempts.Count,
                ["network_namespace"] = outside.Namespaced ? 1 : 0,
                ["answered_404"] = attempts.Count(a => a.Answer.Status == 404),
                ["answered_400"] = attempts.Count(a => a.Answer.Status == 400),
                ["answered_other_4xx"] = attempts.Count(a => a.Answer.Status is >= 400 and < 500 and not 404 and not 400),
                ["closed_without_answer"] = unanswered,
                ["answers_as_problem_json"] = attempts.Count(a => a.Answer.IsProblem),
            },
            Summary = string.Create(CultureInfo.InvariantCulture,
                $"{attempts.Count} attempts on the control plane ({outside.Attempts.Count} from a non-loopback address{(outside.Namespaced ? " in a network namespace" : ", in process")}): {admitted} admitted, {failed} answered 5xx, {probes} probe keys found afterwards."),
        };
    }

    private sealed record Attempt(string Label, RawAnswer Answer);

    private sealed record Outside(IReadOnlyList<Attempt> Attempts, int TriedWithToken, int RefusedWithToken, bool Namespaced);

    private static string Probe(string label) => $$"""{"{{ProbePrefix}}{{Slug().Replace(label, "-")}}": "admitted"}""";

    private static async Task<Attempt> SendAsync(ServiceProcess service, string label, string method, string path, IEnumerable<string> headers, FaultClock clock,
        CancellationToken cancellationToken)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var body = method == "PUT" ? Encoding.UTF8.GetBytes(Probe(label)) : null;
        var answer = await RawHttp.SendAsync(service.Address, method, path, method == "PUT" ? [.. headers, "Content-Type: application/json"] : headers, body,
            TimeSpan.FromSeconds(10), cancellationToken);
        clock.Record("control", started, answer.Status.ToString(CultureInfo.InvariantCulture), error: answer.Status is >= 500 or (>= 200 and < 300));
        return new Attempt(label, answer);
    }

    /// <summary>Straight at a service, from loopback, with no token or a wrong one.</summary>
    private static async Task<IReadOnlyList<Attempt>> DirectAsync(ServiceProcess service, string token, FaultClock clock, CancellationToken cancellationToken)
    {
        var wrong = Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(token.Length / 2));
        var header = LabControlEndpoints.TokenHeader;
        (string Label, string Method, string Path, string[] Headers)[] tries =
        [
            ("no token", "PUT", "/_lab/config", []),
            ("a wrong token of the right length", "PUT", "/_lab/config", [$"{header}: {wrong}"]),
            ("the token with its last character changed", "PUT", "/_lab/config", [$"{header}: {token[..^1]}{(token[^1] == '0' ? '1' : '0')}"]),
            ("the token's first half", "PUT", "/_lab/config", [$"{header}: {token[..(token.Length / 2)]}"]),
            ("the token plus a character", "PUT", "/_lab/config", [$"{header}: {token}0"]),
            ("an empty token", "PUT", "/_lab/config", [$"{header}: "]),
            ("the token in lower case", "PUT", "/_lab/config", [$"{header}: {token.ToLowerInvariant()}"]),
            ("the token as a query parameter", "PUT", $"/_lab/config?token={token}", []),
            ("the token in a cookie", "PUT", "/_lab/config", [$"Cookie: {header}={token}"]),
            ("a read without a token", "GET", "/_lab/config", []),
            ("a read with a wrong token", "GET", "/_lab/config", [$"{header}: {wrong}"]),
            ("/_LAB/config without a token", "PUT", "/_LAB/config", []),
            ("/%5Flab/config without a token", "PUT", "/%5Flab/config", []),
            ("//_lab/config without a token", "PUT", "//_lab/config", []),
            ("X-Forwarded-For: 127.0.0.1 without a token", "PUT", "/_lab/config", ["X-Forwarded-For: 127.0.0.1"]),
        ];
        var attempts = new List<Attempt>();
        foreach (var (label, method, path, headers) in tries)
        {
            attempts.Add(await SendAsync(service, $"{service.Name} direct, {label}", method, path, headers, clock, cancellationToken));
        }

        return attempts;
    }

    /// <summary>Through the gateway's proxy with the right token, under every spelling of the path.</summary>
    private static async Task<IReadOnlyList<Attempt>> ThroughGatewayAsync(ServiceProcess gateway, string token, FaultClock clock, CancellationToken cancellationToken)
    {
        string[] paths =
        [
            "/api/_lab/config", "/api/_LAB/config", "/api/_Lab/Config", "/api/%5Flab/config", "/api/%5flab/config", "/api/%255Flab/config",
            "/api/%25255Flab/config", "/api/%5F%6C%61%62/config", "/api/_lab%2Fconfig", "/api/_lab%2fconfig", "/api//_lab/config", "/api/./_lab/config",
            "/api/x/../_lab/config", "/api/%2E/_lab/config", "/api/x/%2E%2E/_lab/config", "/api/_lab/config/", "/api/_lab/config?x=1", "/api/_lab;/config",
            "/api/_lab/./config", "/api/%5C_lab/config", "/api/\\_lab/config", "/api/_lab/config%00", "/api/_lab%00/config", "/api/%2F_lab/config",
            "/api/%EF%BC%BFlab/config", "/api/_lab%20/config", "/API/_lab/config",
        ];
        var attempts = new List<Attempt>();
        foreach (var path in paths)
        {
            foreach (var method in new[] { "PUT", "GET" })
            {
                foreach (var header in new[] { LabControlEndpoints.TokenHeader, "x-lab-token" })
                {
                    attempts.Add(await SendAsync(gateway, $"gateway proxy, {method} {path} with the token ({header})", method, path, [$"{header}: {token}"], clock, cancellationToken));
                }
            }
        }

        return attempts;
    }

    /// <summary>The right token from an address that is not loopback: a namespace pair of the fault's own, or in process.</summary>
    private static async Task<Outside> FromOutsideAsync(ScenarioContext context, CancellationToken cancellationToken)
    {
        await using var namespaces = await NetworkNamespaces.TryCreateAsync(cancellationToken);
        return namespaces is null
            ? await InProcessAsync(context, cancellationToken)
            : await NamespacedAsync(context, namespaces, cancellationToken);
    }

    private static async Task<Outside> NamespacedAsync(ScenarioContext context, NetworkNamespaces namespaces, CancellationToken cancellationToken)
    {
        var fleet = context.Fleet;
        context.Evidence.Add("A network namespace pair of the fault's own (no address of the machine's involved)", "during",
            string.Join(" && ", namespaces.Commands), $"{namespaces.Server}: {namespaces.ServerAddress}/30\n{namespaces.Client}: {namespaces.ClientAddress}/30");
        const int Port = 5099;
        var dll = Path.Combine(fleet.Inventory.Folder, "Firedrill.Inventory.dll");
        using var inventory = NetworkNamespaces.Start(namespaces.Server, "dotnet",
            [dll, "--urls", $"http://{namespaces.ServerAddress}:{Port};http://127.0.0.1:{Port}"],
            new Dictionary<string, string>
            {
                ["Lab__Enabled"] = "true",
                ["Lab__Token"] = fleet.Token,
                ["Lab__InstanceId"] = "inventory-in-namespace",
                ["Lab__ParentPid"] = Environment.ProcessId.ToString(CultureInfo.InvariantCulture),
                ["DOTNET_gcServer"] = "0",
            }, fleet.Inventory.Folder);
        try
        {
            var env = new Dictionary<string, string> { ["TOKEN"] = fleet.Token };
            var inServer = $"ip netns exec {namespaces.Server}";
            var inClient = $"ip netns exec {namespaces.Client}";
            var ready = await Waiting.UntilAsync(async token => (await NetworkNamespaces.OutputAsync(namespaces.Server,
                ["curl", "-s", "-o", "/dev/null", "-m", "2", "-w", "%{http_code}", $"http://127.0.0.1:{Port}/health/ready"], token)).Trim() == "200",
                TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(300), cancellationToken);
            if (!ready)
            {
                throw new InvalidOperationException("the inventory service did not start inside the network namespace within 30 s");
            }

            var url = $"http://{namespaces.ServerAddress}:{Port}/_lab/config";
            (string Label, string Curl, bool WithToken)[] tries =
            [
                ("PUT with the right token", $"-X PUT -H \"X-Lab-Token: $TOKEN\" -H 'Content-Type: application/json' -d '{Probe("outside put")}'", true),
                ("GET with the right token", "-H \"X-Lab-Token: $TOKEN\"", true),
                ("PUT without a token", $"-X PUT -H 'Content-Type: application/json' -d '{Probe("outside no token")}'", false),
                ("PUT with a wrong token", $"-X PUT -H 'X-Lab-Token: 0000000000000000000000000000000000' -H 'Content-Type: application/json' -d '{Probe("outside wrong")}'", false),
            ];
            var attempts = new List<Attempt>();
            foreach (var (label, curl, _) in tries)
            {
                var evidence = await context.Evidence.ShellAsync($"From {namespaces.ClientAddress} (another namespace): {label}", "during",
                    $"{inClient} curl -s -o /dev/null -w '%{{http_code}}' {curl} {url}", env, cancellationToken: cancellationToken);
                attempts.Add(new Attempt($"from {namespaces.ClientAddress}, {label}", new RawAnswer(ParseCode(evidence.Output), null, 0, null)));
            }

            // The control, in the same process: from its own loopback the token opens it; its overrides hold no probe.
            var control = await context.Evidence.ShellAsync("Inside the server's namespace, from its loopback, with the token (the control)", "audit",
                $"{inServer} curl -s -H \"X-Lab-Token: $TOKEN\" http://127.0.0.1:{Port}/_lab/config", env, cancellationToken: cancellationToken);
            if (control.Output.Contains(ProbePrefix, StringComparison.OrdinalIgnoreCase) || !control.Output.TrimStart().StartsWith('{'))
            {
                attempts.Add(new Attempt("the namespaced inventory's overrides hold a probe (or could not be read)", new RawAnswer(200, null, 0, null)));
            }

            var withToken = attempts.Take(2).ToList();
            return new Outside(attempts, withToken.Count, withToken.Count(a => a.Answer.Status is >= 400 and < 500), Namespaced: true);
        }
        finally
        {
            inventory.Kill(entireProcessTree: true);
            await inventory.WaitForExitAsync(CancellationToken.None);
        }
    }

    private static async Task<Outside> InProcessAsync(ScenarioContext context, CancellationToken cancellationToken)
    {
        await using var guard = await InProcessGuard.StartAsync(context.Fleet.Token, cancellationToken);
        var address = new Uri(guard.Urls.First());
        var token = context.Fleet.Token;
        var remote = $"{InProcessGuard.RemoteHeader}: 203.0.113.7";
        (string Label, string Method, string[] Headers)[] tries =
        [
            ("PUT with the right token", "PUT", [remote, $"{LabControlEndpoints.TokenHeader}: {token}"]),
            ("GET with the right token", "GET", [remote, $"{LabControlEndpoints.TokenHeader}: {token}"]),
            ("PUT without a token", "PUT", [remote]),
        ];
        var attempts = new List<Attempt>();
        foreach (var (label, method, headers) in tries)
        {
            var body = method == "PUT" ? Encoding.UTF8.GetBytes(Probe("in process " + label)) : null;
            var answer = await RawHttp.SendAsync(address, method, "/_lab/config", method == "PUT" ? [.. headers, "Content-Type: application/json"] : headers, body,
                TimeSpan.FromSeconds(10), cancellationToken);
            attempts.Add(new Attempt($"in process as 203.0.113.7, {label}", answer));
        }

        context.Evidence.Add("The guard in process, as if from 203.0.113.7 (no network namespace allowed here)", "during",
            "(the lab hosts ServiceDefaults' MapLabControl; a middleware sets the remote address)",
            string.Join('\n', attempts.Select(a => $"{a.Answer.Status} {a.Label}")));
        var withToken = attempts.Take(2).ToList();
        return new Outside(attempts, withToken.Count, withToken.Count(a => a.Answer.Status is >= 400 and < 500), Namespaced: false);
    }

    private static int ParseCode(string output) =>
        int.TryParse(output.Trim().Split('\n')[0], NumberStyles.Integer, CultureInfo.InvariantCulture, out var code) ? code : 0;

    /// <summary>PUT with the token from loopback: accepted; the control key is removed again at once.</summary>
    private static async Task<bool> ControlAcceptedAsync(ServiceProcess service, string token, CancellationToken cancellationToken)
    {
        try
        {
            await service.ConfigureAsync($$"""{"{{ProbePrefix}}control": "loopback with the token"}""", cancellationToken);
            await service.ConfigureAsync($$"""{"{{ProbePrefix}}control": null}""", cancellationToken);
            return true;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    private static async Task<Dictionary<string, string>> OverridesAsync(ServiceProcess service, string token, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/_lab/config");
        request.Headers.Add(LabControlEndpoints.TokenHeader, token);
        using var response = await service.Client.SendAsync(request, cancellationToken);
        response.EnsureSuccessStatusCode();
        return JsonSerializer.Deserialize<Dictionary<string, string>>(await response.Content.ReadAsStringAsync(cancellationToken)) ?? [];
    }

    [System.Text.RegularExpressions.GeneratedRegex("[^A-Za-z0-9]+")]
    private static partial System.Text.RegularExpressions.Regex Slug();
}
