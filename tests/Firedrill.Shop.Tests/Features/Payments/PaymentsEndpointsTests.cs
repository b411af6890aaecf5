using System.Net;
using Firedrill.Shop.Features.Orders;
using Firedrill.Shop.Features.Payments;
using Firedrill.Shop.Tests.Support;

namespace Firedrill.Shop.Tests.Features.Payments;

public sealed class PaymentsEndpointsTests(ShopFixture fixture) : IClassFixture<ShopFixture>
{
    private readonly HttpClient _client = fixture.Client;

    [Fact]
    public async Task Pay_NewKey_Returns201AndWritesOnePayment()
    {
        var orderId = await PlaceOrderAsync();
        var response = await PayAsync(NewKey(), $$"""{"orderId": {{orderId}}, "amount": 25.5, "currency": "EUR"}""");

        var payment = await response.ReadAsync<Payment>(HttpStatusCode.Created);

        Assert.Equal($"/payments/{payment.Id}", response.Headers.Location?.OriginalString);
        Assert.Equal((orderId, 25.5m, "EUR", "accepted"), (payment.OrderId, payment.Amount, payment.Currency, payment.Status));
        Assert.Equal(1, await PaymentsForAsync(orderId));
        var read = await (await _client.GetAsync($"/payments/{payment.Id}")).ReadAsync<Payment>();
        Assert.Equal(payment, read);
    }

    [Fact]
    public async Task Pay_SameKeySamePayload_ReplaysTheFirstResponse()
    {
        var orderId = await PlaceOrderAsync();
        var key = NewKey();
        var json = $$"""{"orderId": {{orderId}}, "amount": 10, "currency": "USD"}""";

        var first = await PayAsync(key, json);
        // Same values, other formatting: the same payload.
        var second = await PayAsync(key, $$"""{ "currency": "USD", "amount": 10.00, "orderId": {{orderId}} }""");

        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        Assert.Equal(first.StatusCode, second.StatusCode);
        Assert.Equal(await first.Content.ReadAsStringAsync(), await second.Content.ReadAsStringAsync());
        Assert.Equal(first.Headers.Location, second.Headers.Location);
        Assert.True(second.Headers.Contains(PaymentsEndpoints.ReplayedHeader));
        Assert.Equal(1, await PaymentsForAsync(orderId));
    }

    [Fact]
    public async Task Pay_SameKeyOtherPayload_Returns422AndWritesNothing()
    {
        var orderId = await PlaceOrderAsync();
        var key = NewKey();
        await PayAsync(key, $$"""{"orderId": {{orderId}}, "amount": 10, "currency": "USD"}""");

        await (await PayAsync(key, $$"""{"orderId": {{orderId}}, "amount": 11, "currency": "USD"}""")).AssertProblemAsync(HttpStatusCode.UnprocessableEntity);

        Assert.Equal(1, await PaymentsForAsync(orderId));
    }

    [Fact]
    public async Task Pay_KeyHeldByARequestInFlight_Returns409()
    {
        var orderId = await PlaceOrderAsync();
        var key = NewKey();
        // What a request still processing leaves: a claimed, uncompleted key with a live lease.
        await ClaimAsync(key, orderId, age: "0 seconds");

        await (await PayAsync(key, $$"""{"orderId": {{orderId}}, "amount": 5, "currency": "EUR"}""")).AssertProblemAsync(HttpStatusCode.Conflict);

        Assert.Equal(0, await PaymentsForAsync(orderId));
    }

    [Fact]
    public async Task Pay_KeyAbandonedPastItsLease_IsTakenOver()
    {
        var orderId = await PlaceOrderAsync();
        var key = NewKey();
        // What a replica that crashed mid-request leaves: a claim whose lease ran out long ago.
        await ClaimAsync(key, orderId, age: "1 hour");

        await (await PayAsync(key, $$"""{"orderId": {{orderId}}, "amount": 5, "currency": "EUR"}""")).ReadAsync<Payment>(HttpStatusCode.Created);

        Assert.Equal(1, await PaymentsForAsync(orderId));
    }

    [Fact]
    public async Task Pay_TwentyConcurrentRequestsWithOneKey_WriteExactlyOnePayment()
    {
        var orderId = await PlaceOrderAsync();
        var key = NewKey();
        var json = $$"""{"orderId": {{orderId}}, "amount": 99.99, "currency": "GBP"}""";

        var responses = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => PayAsync(key, json)));

        Assert.Equal(1, await PaymentsForAsync(orderId));
        var created = responses.Where(response => response.StatusCode == HttpStatusCode.Created).ToList();
        Assert.NotEmpty(created);
        Assert.All(responses, response => Assert.Contains(response.StatusCode, new[] { HttpStatusCode.Created, HttpStatusCode.Conflict }));
        var bodies = await Task.WhenAll(created.Select(response => response.Content.ReadAsStringAsync()));
        Assert.Single(bodies.Distinct());
        Assert.Equal(1, created.Count(response => !response.Headers.Contains(PaymentsEndpoints.ReplayedHeader)));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("has space")]
    public async Task Pay_MissingOrInvalidKey_Returns400AndWritesNothing(string? key)
    {
        var orderId = await PlaceOrderAsync();

        await (await PayAsync(key, $$"""{"orderId": {{orderId}}, "amount": 1, "currency": "EUR"}""")).AssertInvalidFieldAsync(PaymentsEndpoints.IdempotencyKeyHeader);

        Assert.Equal(0, await PaymentsForAsync(orderId));
    }

    [Fact]
    public async Task Pay_OverlongKey_Returns400() =>
        await (await PayAsync(new string('k', 256), """{"orderId": 1, "amount": 1, "currency": "EUR"}""")).AssertInvalidFieldAsync(PaymentsEndpoints.IdempotencyKeyHeader);

    [Fact]
    public async Task Pay_QuotedStructuredFieldKey_IsTheSameKeyUnquoted()
    {
        var orderId = await PlaceOrderAsync();
        var key = NewKey();
        var json = $$"""{"orderId": {{orderId}}, "amount": 3, "currency": "EUR"}""";

        await (await PayAsync($"\"{key}\"", json)).ReadAsync<Payment>(HttpStatusCode.Created);
        var replay = await PayAsync(key, json);

        Assert.True(replay.Headers.Contains(PaymentsEndpoints.ReplayedHeader));
        Assert.Equal(1, await PaymentsForAsync(orderId));
    }

    [Theory]
    [InlineData("""{"amount": 1, "currency": "EUR"}""", "orderId")]
    [InlineData("""{"orderId": 1, "currency": "EUR"}""", "amount")]
    [InlineData("""{"orderId": 1, "amount": 0, "currency": "EUR"}""", "amount")]
    [InlineData("""{"orderId": 1, "amount": -10, "currency": "EUR"}""", "amount")]
    [InlineData("""{"orderId": 1, "amount": 0.001, "currency": "EUR"}""", "amount")]
    [InlineData("""{"orderId": 1, "amount": 1000000000, "currency": "EUR"}""", "amount")]
    [InlineData("""{"orderId": 1, "amount": 1}""", "currency")]
    [InlineData("""{"orderId": 1, "amount": 1, "currency": "eur"}""", "currency")]
    [InlineData("""{"orderId": 1, "amount": 1, "currency": "EURO"}""", "currency")]
    [InlineData("""{"orderId": 1, "amount": "lots", "currency": "EUR"}""", "amount")]
    [InlineData("""{"orderId": 1e30, "amount": 1, "currency": "EUR"}""", "orderId")]
    public async Task Pay_InvalidBody_Returns400NamingTheField(string json, string field) =>
        await (await PayAsync(NewKey(), json)).AssertInvalidFieldAsync(field);

    [Fact]
    public async Task Pay_MalformedJson_Returns400AndLeavesTheKeyUnused()
    {
        var orderId = await PlaceOrderAsync();
        var key = NewKey();

        await (await PayAsync(key, """{"orderId": """)).AssertProblemAsync(HttpStatusCode.BadRequest);
        await (await PayAsync(key, $$"""{"orderId": {{orderId}}, "amount": 2, "currency": "EUR"}""")).ReadAsync<Payment>(HttpStatusCode.Created);
    }

    [Fact]
    public async Task Pay_UnknownOrder_Returns404AndLeavesTheKeyUnused()
    {
        var key = NewKey();

        await (await PayAsync(key, """{"orderId": 77777777, "amount": 2, "currency": "EUR"}""")).AssertProblemAsync(HttpStatusCode.NotFound);

        Assert.Equal(0, await fixture.Database.ScalarAsync<long>($"SELECT count(*) FROM idempotency_keys WHERE key = '{key}'"));
    }

    [Theory]
    [InlineData("/payments/123456789")]
    [InlineData("/payments/0")]
    public async Task GetPayment_UnknownId_Returns404(string path) =>
        await (await _client.GetAsync(path)).AssertProblemAsync(HttpStatusCode.NotFound);

    /// <summary>Claims a key for a 5 EUR payment of the order, as a request would, <paramref name="age"/> ago.</summary>
    private Task ClaimAsync(string key, long orderId, string age) =>
        fixture.Database.ExecuteAsync(
            $"INSERT INTO idempotency_keys (key, fingerprint, locked_at) VALUES ('{key}', '\\x{Convert.ToHexString(PaymentService.Fingerprint(orderId, 5m, "EUR"))}', now() - interval '{age}')");

    private async Task<long> PlaceOrderAsync() =>
        (await (await _client.PostJsonAsync("/orders", """{"customerId": 1, "lines": [{"productId": 2, "quantity": 1}]}""")).ReadAsync<Order>(HttpStatusCode.Created)).Id;

    private Task<HttpResponseMessage> PayAsync(string? key, string json) => Pay(_client, key, json);

    internal static Task<HttpResponseMessage> Pay(HttpClient client, string? key, string json)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/payments") { Content = new StringContent(json, System.Text.Encoding.UTF8, "application/json") };
        if (key is not null)
        {
            request.Headers.TryAddWithoutValidation(PaymentsEndpoints.IdempotencyKeyHeader, key);
        }

        return client.SendAsync(request);
    }

    internal static string NewKey() => Guid.NewGuid().ToString();

    private Task<long> PaymentsForAsync(long orderId) =>
        fixture.Database.ScalarAsync<long>($"SELECT count(*) FROM payments WHERE order_id = {orderId}");
}
