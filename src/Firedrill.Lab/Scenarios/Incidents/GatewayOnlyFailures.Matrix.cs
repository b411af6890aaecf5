using System.Globalization;

namespace Firedrill.Lab.Scenarios.Incidents;

/// <summary>The matrix's rows and the variants: which gateway setting is out of line with the service.</summary>
internal sealed partial class GatewayOnlyFailures
{
    private const int ReportRow = 12;
    private const int Office = 50;

    /// <summary>
    /// The rows, in the order sent: the variant's telling row late, so its answer falls in the
    /// phase's last seconds, which the runbook's short-window queries read; the office behind one
    /// proxy last of all, so its crowd cannot starve another row's bucket.
    /// </summary>
    private static List<MatrixRow> Rows(MatrixData data, int phase, int telling)
    {
        var rows = AllRows(data, phase);
        var late = rows.Where(row => row.Number == telling && !row.Crowd).ToList();
        return [.. rows.Except(late).Where(row => !row.Crowd), .. late, .. rows.Where(row => row.Crowd)];
    }

    private static List<MatrixRow> AllRows(MatrixData data, int phase)
    {
        const string Curl = "curl -s -m 20 -w '\\n%{http_code}\\n'";
        string Order(MatrixTarget target) => Invariant($"{data.Orders[2 * phase + (target.ViaGateway ? 1 : 0)].Id}");
        string Amount(MatrixTarget target) => data.Orders[2 * phase + (target.ViaGateway ? 1 : 0)].Total.ToString(CultureInfo.InvariantCulture);
        string Key(MatrixTarget target) => $"pay-{phase}-{(target.ViaGateway ? "production" : "staging")}-{data.Orders[2 * phase].Id}";
        return
        [
            new(1, "GET /products/1", t => $"{Curl} '{t.BaseUrl}/products/1'"),
            new(2, "GET /products?query=Kettle&pageSize=20", t => $"{Curl} '{t.BaseUrl}/products?query=Kettle&pageSize=20'"),
            new(3, "GET /products/1/availability", t => $"{Curl} '{t.BaseUrl}/products/1/availability'"),
            new(4, "GET /products/3 from a logged-in browser (12 KB of cookies)", t => $"{Curl} -H \"Cookie: $(cat cookies.txt)\" '{t.BaseUrl}/products/3'"),
            new(5, "PUT /products/2/price", t => $"{Curl} -X PUT -H 'Content-Type: application/json' -d '{{\"price\": 19.99}}' '{t.BaseUrl}/products/2/price'"),
            new(6, "POST /products/prices/import (the price list, CSV, 1,000 rows)", t => $"{Curl} -H 'Content-Type: text/csv' --data-binary @prices.csv '{t.BaseUrl}/products/prices/import'"),
            new(7, "POST /orders", t => $"{Curl} -H 'Content-Type: application/json' -d '{{\"customerId\": 7, \"lines\": [{{\"productId\": 5, \"quantity\": 1}}]}}' '{t.BaseUrl}/orders'"),
            new(8, "GET /orders/{id}", t => Invariant($"{Curl} '{t.BaseUrl}/orders/{data.PaidOrder}'")),
            new(9, "GET /customers/1/orders", t => $"{Curl} '{t.BaseUrl}/customers/1/orders'"),
            new(10, "POST /payments with its Idempotency-Key", t =>
                $"{Curl} -H 'Idempotency-Key: {Key(t)}' -H 'Content-Type: application/json' -d '{{\"orderId\": {Order(t)}, \"amount\": {Amount(t)}, \"currency\": \"EUR\"}}' '{t.BaseUrl}/payments'"),
            new(11, "GET /payments/{id}", t => Invariant($"{Curl} '{t.BaseUrl}/payments/{data.Payment}'")),
            new(ReportRow, "GET /reports/sales?days=365 (the year's sales trend)", t => $"{Curl} '{t.BaseUrl}/reports/sales?days=365'"),
            new(13, $"{Office} users behind one office proxy, one GET /products/{{n}} each, at once",
                t => $"seq 1 {Office} | xargs -P {Office} -I{{}} curl -s -m 20 -o /dev/null -w '%{{http_code}}\\n' -H 'X-Forwarded-For: 198.51.100.{{}}' '{t.BaseUrl}/products/{{}}' | sort | uniq -c",
                Crowd: true),
        ];
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    private static List<Cause> AllCauses() =>
    [
        new("header-too-large", "the gateway's header limit (8 KB) is below what the replicas accept (64 KB): a browser's cookies get 431",
            431, 4,
            """{"Gateway:MaxRequestHeadersTotalBytes": 8192}""",
            """{"Gateway:MaxRequestHeadersTotalBytes": 65536}""",
            "Logged-in customers get 431 Request Header Fields Too Large on every page in production; the same requests work in staging.",
            "The gateway refuses headers over Gateway:MaxRequestHeadersTotalBytes = 8192 (src/Firedrill.Gateway/Limits/GatewayOptions.cs, enforced by RequestSizeLimitsMiddleware), while the replicas accept 64 KB (Kestrel:Limits:MaxRequestHeadersTotalSize in src/Firedrill.Shop/appsettings.json). A browser that has collected the site's session, preferences and cart cookies sends 12 KB of headers: fine for the replica, too much for the edge. Staging has no gateway, so it never shows.",
            "Align the edge with the service: Gateway:MaxRequestHeadersTotalBytes = 65536, the replicas' own Kestrel limit (and keep cookies small). The default, 32 KB, also lets these requests through."),
        new("body-too-large", "the gateway's body limit (16 KB, sized for JSON) is below a real upload: the price list gets 413",
            413, 6,
            """{"Gateway:MaxRequestBodyBytes": 16384}""",
            """{"Gateway:MaxRequestBodyBytes": 1048576}""",
            "Uploading the price list (POST /products/prices/import) fails with 413 Content Too Large in production; staging imports the same file.",
            "Gateway:MaxRequestBodyBytes = 16384 (src/Firedrill.Gateway/Limits/GatewayOptions.cs, enforced by RequestSizeLimitsMiddleware) was sized for the API's JSON bodies; the price import takes a CSV of the whole catalogue (30 KB here) and accepts up to Catalog:MaxImportBytes = 1 MiB (src/Firedrill.Shop/Features/Catalog/PriceImportEndpoint.cs). The gateway refuses the upload before the replica sees it.",
            "Align the edge with the service's own limit: Gateway:MaxRequestBodyBytes = 1048576 = Catalog:MaxImportBytes (the gateway's default). The service keeps guarding itself with its limit; the edge must not be stricter than the largest request the service accepts."),
        new("gateway-timeout", "the gateway's timeout (250 ms) is shorter than the sales report's real work: the report gets 504",
            504, ReportRow,
            """{"Gateway:RequestTimeout": "00:00:00.250"}""",
            """{"Gateway:RequestTimeout": "00:00:30"}""",
            "The sales report (GET /reports/sales?days=365) fails with 504 Gateway Timeout in production; in staging it answers, after a second or so.",
            "Gateway:RequestTimeout = 00:00:00.250 (src/Firedrill.Gateway/Limits/GatewayOptions.cs, ProxyTimeoutPolicy) was sized for the storefront's calls, which answer in milliseconds. The report does real work — a row per product per day for a year, two moving averages over them, planned and JIT-compiled by PostgreSQL (src/Firedrill.Shop/Features/Reports/SalesReportStore.cs) — and takes longer, so the gateway gives up, answers 504 and aborts the request while the replica is still computing.",
            "A gateway timeout no shorter than the slowest endpoint's own bound: Gateway:RequestTimeout = 00:00:30, the shop's command timeout (Db:CommandTimeoutSeconds) — or a route of its own for the back office with that timeout, keeping the storefront's short."),
        new("stripped-header", "a header allowlist on the gateway's route drops Idempotency-Key: every payment gets 400",
            400, 10,
            """{"ReverseProxy:Routes:shop:Transforms:1:RequestHeadersAllowed": "Accept;Accept-Encoding;Authorization;Content-Type;Content-Length;Cookie;User-Agent"}""",
            """{"ReverseProxy:Routes:shop:Transforms:1:RequestHeadersAllowed": "Accept;Accept-Encoding;Authorization;Content-Type;Content-Length;Cookie;User-Agent;Idempotency-Key"}""",
            "Every payment through the gateway is refused with 400 \"Idempotency-Key header is required\" although the client sends the header; in staging payments go through.",
            "The gateway's route forwards only an allowlist of request headers (YARP's RequestHeadersAllowed transform in ReverseProxy:Routes:shop:Transforms, src/Firedrill.Gateway/appsettings.json), written before payments needed Idempotency-Key. YARP drops the header on the way, and the replica (src/Firedrill.Shop/Features/Payments/PaymentsEndpoints.cs) rightly refuses a payment without one.",
            "Add Idempotency-Key to the route's RequestHeadersAllowed (or drop the allowlist and strip only what must not pass)."),
        new("shared-rate-limit", "the per-client rate limit ignores X-Forwarded-For: an office behind one proxy shares one bucket and gets 429",
            429, 13,
            """{"Gateway:TrustForwardedHeaders": false}""",
            """{"Gateway:TrustForwardedHeaders": true}""",
            "Users of one office get 429 Too Many Requests although each sends a single request; in staging (no rate limit) everything works.",
            "The gateway's per-client limit (Gateway:PermitsPerSecond 10, Gateway:Burst 20; src/Firedrill.Gateway/Limits/ClientRateLimitPolicy.cs) partitions by the client's address, and with Gateway:TrustForwardedHeaders = false that is the connection's address: the office proxy's, the same for every user behind it. Fifty users at once are one client sending fifty requests.",
            "Trust X-Forwarded-For from the known proxy (Gateway:TrustForwardedHeaders = true: ASP.NET Core's ForwardedHeaders middleware, KnownProxies loopback here) so the limit counts each user; never trust it from anywhere else.")
        {
            GatewaySettings = new Dictionary<string, string> { ["Gateway:PermitsPerSecond"] = "10", ["Gateway:Burst"] = "20" },
        },
        new("path-rewrite", "a path rewrite with a one-star catch-all escapes '/' as %2F: every multi-segment route gets 404",
            404, 1,
            """{"ReverseProxy:Routes:shop:Transforms:1:PathPattern": "/{*rest}"}""",
            """{"ReverseProxy:Routes:shop:Transforms:1:PathPattern": "/{**rest}"}""",
            "Most of the API answers 404 through the gateway — product pages, orders, reports — while the search and the POST endpoints still work; in staging every route works.",
            "A path rewrite on the gateway's route (YARP's PathPattern transform \"/{*rest}\" in ReverseProxy:Routes:shop:Transforms) binds the catch-all with one asterisk, and ASP.NET Core's template binder escapes '/' in such a value: /api/products/1 reaches the replica as /products%2F1, which matches no route (microsoft/reverse-proxy#1777). Single-segment paths (/products, /orders, /payments) survive, which hides it in a smoke test.",
            "\"/{**rest}\": two asterisks keep the slashes (or PathRemovePrefix \"/api\", as the route ships)."),
    ];
}
