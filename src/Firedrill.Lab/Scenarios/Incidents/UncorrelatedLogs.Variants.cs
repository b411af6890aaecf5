namespace Firedrill.Lab.Scenarios.Incidents;

/// <summary>The variants, the runbook's queries, and how the lab finds a trace's lines in each process's log.</summary>
internal sealed partial class UncorrelatedLogs
{
    private const string NewTraces = "requests starting a new trace below the gateway per second";
    private const string OrphanMessages = "consumed messages without a trace parent per second";
    private const string UnjoinableLines = "log lines without a trace id per second";

    /// <summary>The four processes a payment's story runs through.</summary>
    internal static class Parts
    {
        public const string Gateway = "gateway";
        public const string Shop = "shop";
        public const string Inventory = "inventory";
        public const string Consumer = "consumer";

        public static readonly IReadOnlyList<string> All = [Gateway, Shop, Inventory, Consumer];
    }

    private static readonly IReadOnlyList<SignalQuery> Signals =
    [
        new(NewTraces, CounterQueries.Rate("""firedrill_trace_context_joins_total{service!="gateway", kind="request", parent="none"}""", 5),
            "Requests a shop replica or inventory served without a W3C parent: below the edge every request has a caller, so each is a trace cut off from its request."),
        new(OrphanMessages, CounterQueries.Rate("""firedrill_trace_context_joins_total{kind="message", parent="none"}""", 5),
            "Kafka messages the ledger consumer applied without a traceparent header: its lines start traces no request leads to."),
        new(UnjoinableLines, CounterQueries.Rate("""firedrill_logs_records_total{trace_id="absent"}""", 5),
            "Log lines written with no trace id on them: nothing can join them to a request."),
    ];

    private static List<Cause> AllCauses() =>
    [
        new("dropped-context", "the gateway and the shop's HTTP client send no traceparent: every service starts a trace of its own",
            Targets.Everyone,
            """{"Telemetry:PropagateTraceContext": false}""",
            """{"Telemetry:PropagateTraceContext": true}""",
            Parts.Shop,
            "A customer quotes the trace id of a payment (every response returns it, in traceresponse); `firedrill trace <id>` shows the gateway's lines and nothing else. The shop's, inventory's and the ledger's lines for that payment exist, under other ids.",
            "Outbound HTTP carries no W3C traceparent. The gateway's forwarder (src/Firedrill.Gateway/Routing/TraceContextForwarding.cs, PropagatingForwarderHttpClientFactory) and the shop's IHttpClientFactory clients (src/Firedrill.ServiceDefaults/Telemetry/TelemetryExtensions.cs) inject through SwitchablePropagator, which injects nothing while Telemetry:PropagateTraceContext = false — as a client built with DistributedContextPropagator.CreateNoOutputPropagator(), or a proxy that drops unknown headers, would. Each service downstream starts a new trace: one request becomes several unrelated stories.",
            "Propagate W3C trace context on every hop (Telemetry:PropagateTraceContext = true: YARP's ReverseProxyPropagator and the handlers' ActivityHeadersPropagator inject traceparent), so the shop, inventory and the consumer continue the edge's trace and their lines carry its id."),
        new("no-kafka-propagation", "the outbox keeps no traceparent, so the Kafka message carries none: the ledger consumer's lines start a new trace",
            Targets.Shops,
            """{"Kafka:PropagateTraceContext": false}""",
            """{"Kafka:PropagateTraceContext": true}""",
            Parts.Consumer,
            "A payment can be followed through the gateway, the shop and inventory by its trace id, but its ledger entry cannot: the consumer's lines for it carry another trace id, found only by searching for the order.",
            "The outbox stores no trace context with the message (Kafka:PropagateTraceContext = false; src/Firedrill.Shop/Features/Messaging/Outbox.cs, AddPaymentAcceptedAsync), so the relay publishes it without a traceparent header and the consumer (LedgerHandler.HandleAsync) has no parent to continue: it starts a new trace for every message.",
            "Keep the request's W3C context with the outbox row and publish it as the message's traceparent header (Kafka:PropagateTraceContext = true); the consumer continues that trace, so the ledger line carries the payment request's id."),
        new("free-text-logs", "every service logs free-text lines with no trace or span id: nothing joins them",
            Targets.Everyone,
            """{"Telemetry:LogFormat": "Text"}""",
            """{"Telemetry:LogFormat": "Json"}""",
            Parts.Gateway,
            "Every service logs every request, yet `firedrill trace <id>` finds nothing for the id the customer was given: the lines are text — time, level, category, message — and none carries a trace id.",
            "The console writes free text (Telemetry:LogFormat = Text; the formatter is chosen in src/Firedrill.ServiceDefaults/Telemetry/TelemetryExtensions.cs, AddLogging): no scopes, so no TraceId or SpanId on any line. The traces are still recorded (the spans exist), but no log line can be joined to them or to each other.",
            "JSON lines carrying the current span's TraceId and SpanId (Telemetry:LogFormat = Json, with ActivityTrackingOptions.TraceId | SpanId), and the trace id returned to the caller on every response (traceresponse), so the id a customer quotes finds every line."),
    ];

    /// <summary>Which processes wrote a line carrying each sampled trace id, from the run's log files.</summary>
    private sealed class LogCoverage(IReadOnlyList<string> traceIds, Dictionary<string, HashSet<string>> found)
    {
        public static async Task<LogCoverage> FindAsync(string logs, IReadOnlyList<string> traceIds, CancellationToken cancellationToken)
        {
            var found = traceIds.Distinct().ToDictionary(id => id, _ => new HashSet<string>(), StringComparer.Ordinal);
            foreach (var file in Directory.EnumerateFiles(logs, "*.log"))
            {
                var service = Path.GetFileNameWithoutExtension(file);
                await using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
                using var reader = new StreamReader(stream);
                while (await reader.ReadLineAsync(cancellationToken) is { } line)
                {
                    foreach (var (id, parts) in found)
                    {
                        if (line.Contains(id, StringComparison.Ordinal))
                        {
                            parts.Add(Part(service, line));
                        }
                    }
                }
            }

            return new LogCoverage(traceIds, found);
        }

        /// <summary>The fraction of sampled traces with lines from every one of <paramref name="parts"/>.</summary>
        public double Ratio(IReadOnlyList<string> parts) =>
            traceIds.Count == 0 ? 0 : Math.Round((double)traceIds.Count(id => parts.All(found[id].Contains)) / traceIds.Count, 4);

        private static string Part(string service, string line) => service switch
        {
            "gateway" => Parts.Gateway,
            "inventory" => Parts.Inventory,
            _ when line.Contains("LedgerHandler", StringComparison.Ordinal) => Parts.Consumer,
            _ => Parts.Shop,
        };
    }
}
