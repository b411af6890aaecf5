using Firedrill.Lab.Prometheus;

namespace Firedrill.Lab.Tests.Prometheus;

public sealed class PromQlClientTests(PrometheusFixture prometheus) : IClassFixture<PrometheusFixture>
{
    // Prometheus scrapes every second; the first scrape waits for target discovery.
    private static readonly TimeSpan ScrapeDeadline = TimeSpan.FromSeconds(20);

    private readonly PromQlClient _client = prometheus.Client;

    [Fact]
    public async Task QueryScalarAsync_ScrapedCounter_ReturnsItsValue()
    {
        double? value = null;
        var seen = await Poll.UntilAsync(
            async () => (value = await _client.QueryScalarAsync("test_requests_total", at: null, CancellationToken.None)) == PrometheusFixture.Requests,
            ScrapeDeadline);

        Assert.True(seen, $"test_requests_total was {value?.ToString() ?? "absent"}, expected {PrometheusFixture.Requests}");
    }

    [Fact]
    public async Task QueryRangeAsync_ScrapedCounter_ReturnsItsPointsOldestFirst()
    {
        IReadOnlyList<(DateTimeOffset At, double Value)> points = [];
        var seen = await Poll.UntilAsync(
            async () =>
            {
                var now = DateTimeOffset.UtcNow;
                points = await _client.QueryRangeAsync("test_requests_total{job=\"first\"}", now.AddSeconds(-30), now, TimeSpan.FromSeconds(1), CancellationToken.None);
                return points.Count >= 2;
            },
            ScrapeDeadline);

        Assert.True(seen, $"expected at least 2 points, got {points.Count}");
        Assert.All(points, point => Assert.Equal(PrometheusFixture.Requests, point.Value));
        Assert.True(points[0].At < points[^1].At);
    }

    [Fact]
    public async Task QueryScalarAsync_SyntaxError_ThrowsNamingTheQueryAndTheError()
    {
        const string query = "sum(rate(test_requests_total[1m])";

        var exception = await Assert.ThrowsAsync<PromQlException>(() => _client.QueryScalarAsync(query, at: null, CancellationToken.None));

        Assert.Contains(query, exception.Message, StringComparison.Ordinal);
        Assert.Contains("parse error", exception.Message, StringComparison.Ordinal);
        Assert.Equal(query, exception.Query);
    }

    [Fact]
    public async Task QueryScalarAsync_NaN_ReturnsNull()
    {
        Assert.Null(await _client.QueryScalarAsync("0/0", at: null, CancellationToken.None));
    }

    [Fact]
    public async Task QueryScalarAsync_Infinity_ReturnsInfinity()
    {
        Assert.Equal(double.PositiveInfinity, await _client.QueryScalarAsync("vector(1)/0", at: null, CancellationToken.None));
    }

    [Fact]
    public async Task QueryScalarAsync_NoSeries_ReturnsNull()
    {
        Assert.Null(await _client.QueryScalarAsync("test_requests_total{job=\"nobody\"}", DateTimeOffset.UtcNow, CancellationToken.None));
    }

    [Fact]
    public async Task QueryScalarAsync_SeveralSeries_ThrowsNamingTheQuery()
    {
        const string query = "label_replace(vector(1), \"x\", \"a\", \"\", \"\") or label_replace(vector(2), \"x\", \"b\", \"\", \"\")";

        var exception = await Assert.ThrowsAsync<PromQlException>(() => _client.QueryScalarAsync(query, at: null, CancellationToken.None));

        Assert.Contains(query, exception.Message, StringComparison.Ordinal);
        Assert.Contains("2 series", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task QueryScalarAsync_RangeVector_ThrowsNamingTheResultType()
    {
        var exception = await Assert.ThrowsAsync<PromQlException>(() => _client.QueryScalarAsync("test_requests_total[5s]", at: null, CancellationToken.None));

        Assert.Contains("matrix", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task QueryRangeAsync_AllNaN_SkipsEveryPoint()
    {
        var now = DateTimeOffset.UtcNow;

        var points = await _client.QueryRangeAsync("0/0", now.AddSeconds(-5), now, TimeSpan.FromSeconds(1), CancellationToken.None);

        Assert.Empty(points);
    }

    [Fact]
    public void Constructor_HttpClientWithoutBaseAddress_Throws()
    {
        using var http = new HttpClient();

        var exception = Assert.Throws<ArgumentException>(() => new PromQlClient(http));

        Assert.Contains("BaseAddress", exception.Message, StringComparison.Ordinal);
    }
}
