using System.Globalization;
using System.Text.Json;

namespace Firedrill.Lab.Prometheus;

/// <summary>
/// Prometheus's HTTP query API for verdicts: one number (or one series) per query, so a query
/// that unexpectedly matches several series fails loudly instead of being summed or truncated.
/// </summary>
public sealed class PromQlClient
{
    private const int SeriesShownInErrors = 3;

    private readonly HttpClient _http;
    private readonly Uri _prometheus;

    /// <param name="http">
    /// Its <see cref="HttpClient.BaseAddress"/> is Prometheus (e.g. <see cref="PrometheusServer.Address"/>): a typed client
    /// from <c>IHttpClientFactory</c>, or the caller's own. Its timeout bounds every query.
    /// </param>
    public PromQlClient(HttpClient http)
        : this(http, http.BaseAddress ?? throw new ArgumentException("The HttpClient needs a BaseAddress: Prometheus's address.", nameof(http)))
    {
    }

    /// <param name="http">From <c>IHttpClientFactory</c> (or the caller's own); its timeout bounds every query.</param>
    /// <param name="prometheus">Prometheus's base address, e.g. <see cref="PrometheusServer.Address"/>.</param>
    public PromQlClient(HttpClient http, Uri prometheus)
    {
        _http = http;
        // A base without a trailing slash would drop its last path segment (a Prometheus behind a path prefix).
        _prometheus = prometheus.AbsoluteUri.EndsWith('/') ? prometheus : new Uri(prometheus.AbsoluteUri + "/");
    }

    /// <summary>
    /// The value of an instant query: <c>null</c> when it matches no series or is NaN (e.g. a rate
    /// over zero requests); ±infinity as such. Throws <see cref="PromQlException"/> for a PromQL error
    /// or more than one series.
    /// </summary>
    public async Task<double?> QueryScalarAsync(string promql, DateTimeOffset? at, CancellationToken ct)
    {
        var form = new Dictionary<string, string> { ["query"] = promql };
        if (at is { } time)
        {
            form["time"] = UnixSeconds(time);
        }

        using var document = await PostAsync("api/v1/query", promql, form, ct);
        var data = document.RootElement.GetProperty("data");
        var result = data.GetProperty("result");
        switch (data.GetProperty("resultType").GetString())
        {
            case "scalar":
                return NullIfNaN(ParseValue(result[1], promql));
            case "vector":
                EnsureAtMostOneSeries(result, promql);
                return result.GetArrayLength() == 0 ? null : NullIfNaN(ParseValue(result[0].GetProperty("value")[1], promql));
            case var other:
                throw new PromQlException(promql, $"the result is a {other}, not a single number (is there a range selector [..] without a function around it?)");
        }
    }

    /// <summary>
    /// The points of a range query, oldest first; NaN points are left out. Empty when it matches
    /// nothing; throws <see cref="PromQlException"/> for a PromQL error or more than one series.
    /// </summary>
    public async Task<IReadOnlyList<(DateTimeOffset At, double Value)>> QueryRangeAsync(
        string promql, DateTimeOffset start, DateTimeOffset end, TimeSpan step, CancellationToken ct)
    {
        var form = new Dictionary<string, string>
        {
            ["query"] = promql,
            ["start"] = UnixSeconds(start),
            ["end"] = UnixSeconds(end),
            ["step"] = step.TotalSeconds.ToString("R", CultureInfo.InvariantCulture),
        };

        using var document = await PostAsync("api/v1/query_range", promql, form, ct);
        var result = document.RootElement.GetProperty("data").GetProperty("result");
        EnsureAtMostOneSeries(result, promql);
        if (result.GetArrayLength() == 0)
        {
            return [];
        }

        var points = new List<(DateTimeOffset, double)>();
        foreach (var pair in result[0].GetProperty("values").EnumerateArray())
        {
            var value = ParseValue(pair[1], promql);
            if (!double.IsNaN(value))
            {
                points.Add((FromUnixSeconds(pair[0].GetDouble()), value));
            }
        }

        return points;
    }

    // POST with a form body: long queries would not fit a URL, and Prometheus accepts both.
    private async Task<JsonDocument> PostAsync(string path, string promql, Dictionary<string, string> form, CancellationToken ct)
    {
        using var content = new FormUrlEncodedContent(form);
        using var response = await _http.PostAsync(new Uri(_prometheus, path), content, ct);
        var body = await response.Content.ReadAsStringAsync(ct);

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body);
        }
        catch (JsonException exception)
        {
            // Not Prometheus's JSON: a proxy's error page, or not Prometheus at all.
            throw new PromQlException(promql, $"HTTP {(int)response.StatusCode} from {_prometheus} with a body that is not Prometheus's JSON: {Truncate(body)}", exception);
        }

        var root = document.RootElement;
        if (root.TryGetProperty("status", out var status) && status.GetString() == "success")
        {
            return document;
        }

        using (document)
        {
            var type = root.TryGetProperty("errorType", out var errorType) ? errorType.GetString() : null;
            var error = root.TryGetProperty("error", out var message) ? message.GetString() : null;
            throw new PromQlException(promql, $"Prometheus answered HTTP {(int)response.StatusCode} {type}: {error ?? Truncate(body)}");
        }
    }

    private static void EnsureAtMostOneSeries(JsonElement result, string promql)
    {
        var count = result.GetArrayLength();
        if (count > 1)
        {
            var shown = string.Join(", ", result.EnumerateArray().Take(SeriesShownInErrors).Select(series => series.GetProperty("metric").GetRawText()));
            throw new PromQlException(promql, $"{count} series matched where one was expected (aggregate with sum/max/... or add label matchers): {shown}{(count > SeriesShownInErrors ? ", ..." : string.Empty)}");
        }
    }

    /// <summary>Prometheus writes sample values as strings, including "NaN", "+Inf" and "-Inf".</summary>
    private static double ParseValue(JsonElement value, string promql)
    {
        var text = value.GetString();
        return text switch
        {
            "NaN" => double.NaN,
            "+Inf" => double.PositiveInfinity,
            "-Inf" => double.NegativeInfinity,
            _ when double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var number) => number,
            _ => throw new PromQlException(promql, $"the sample value '{text}' is not a number"),
        };
    }

    private static double? NullIfNaN(double value) => double.IsNaN(value) ? null : value;

    private static string UnixSeconds(DateTimeOffset time) =>
        (time.ToUnixTimeMilliseconds() / 1000.0).ToString("0.###", CultureInfo.InvariantCulture);

    private static DateTimeOffset FromUnixSeconds(double seconds) =>
        DateTimeOffset.FromUnixTimeMilliseconds((long)Math.Round(seconds * 1000));

    private static string Truncate(string body) => body.Length <= 200 ? body : body[..200] + "...";
}
