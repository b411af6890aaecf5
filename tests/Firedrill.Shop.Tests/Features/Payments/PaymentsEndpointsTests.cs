using System.Net;
using Firedrill.Shop.Features.Orders;
using Firedrill.Shop.Features.Payments;
using Firedrill.Shop.Tests.Support;

namespace Firedrill.Shop.Tests.Features.Payments;

public sealed class PaymentsEndpointsTests(ShopFixture fixture) : IClassFixture<ShopFixture>
{
    private readonly HttpClient _client = fixture.Client;

    [Fact]
    public async Task Pay_NewKey_Returns201WritesOnePaymentAndMarksTheOrderPaid()
    {
        var order = await PlaceOrderAsync();
        var response = await PayAsync(NewKey(), Body(order));

        var payment = await response.ReadAsync<Payment>(HttpStatusCode.Created);

        Assert.Equal($"/payments/{payment.Id}", response.Headers.Location?.OriginalString);
        Assert.Equal((order.Id, order.Total, "EUR", "accepted"), (payment.OrderId, payment.Amount, payment.Currency, payment.Status));
        Assert.Equal(1, await PaymentsForAsync(order.Id));
        var read = await (await _client.GetAsync($"/payments/{payment.Id}")).ReadAsync<Payment>();
        Assert.Equal(payment, read);
        Assert.Equal("paid", (await (await _client.GetAsync($"/orders/{order.Id}")).ReadAsync<Order>()).Status);
    }

    [Fact]
    public async Task Pay_BehindAProxyThatStrippedAPrefix_LocationCarriesThePrefix()
    {
        var order = await PlaceOrderAsync();
        var request = new HttpRequestMessage(HttpMethod.Post, "/payments") { Content = new StringContent(Body(order), System.Text.Encoding.UTF8, "application/json") };
        request.Headers.Add(PaymentsEndpoints.IdempotencyKeyHeader, NewKey());
        request.Headers.Add("X-Forwarded-Prefix", "/api");

        var response = await _client.SendAsync(request);

        var payment = await response.ReadAsync<Payment>(HttpStatusCode.Created);
        Assert.Equal($"/api/payments/{payment.Id}", response.Headers.Location?.OriginalString);
    }

    [Theory]
    [InlineData(1, "EUR", "is 1.00 EUR")]
    [InlineData(0, "JPY", "JPY")]
    public async Task Pay_AmountOrCurrencyOtherThanTheOrders_Returns422NamingBothAndChargesNothing(decimal amount, string currency, string named)
    {
        var order = await PlaceOrderAsync();
        var paid = amount == 0 ? order.Total : amount;

        var response = await PayAsync(NewKey(), string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $$"""{"orderId": {{order.Id}}, "amount": {{paid}}, "currency": "{{currency}}"}"""));

        var detail = (await response.AssertProblemAsync(HttpStatusCode.UnprocessableEntity)).GetProperty("detail").GetString();
        Assert.Contains(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{order.Total:0.00} EUR"), detail, StringComparison.Ordinal);
        Assert.Contains(named, detail, StringComparison.Ordinal);
        Assert.Equal(0, await PaymentsForAsync(order.Id));
    }

    [Fact]
    public async Task Pay_PaidOrderUnderANewKey_Returns409PointingAtTheExistingPayment()
    {
        var order = await PlaceOrderAsync();
        var first = await (await PayAsync(NewKey(), Body(order))).ReadAsync<Payment>(HttpStatusCode.Created);

        // A client that makes a new key per attempt: the order itself refuses the second charge.
        var second = await PayAsync(NewKey(), Body(order));

        await second.AssertProblemAsync(HttpStatusCode.Conflict);
        Assert.Equal($"/payments/{first.Id}", second.Headers.Location?.OriginalString);
        Assert.Equal(1, await PaymentsForAsync(order.Id));
    }

    [Fact]
    public async Task Pay_OrderCheckSwitchedOff_TheUniqueIndexStillRefusesASecondCharge()
    {
        await using var shop = new ShopInstance(fixture.Database.ConnectionString, new Dictionary<string, string?> { ["Payments:OnePaymentPerOrder"] = "false" });
        using var client = shop.CreateClient();
        var order = await PlaceOrderAsync();
        await (await Pay(client, NewKey(), Body(order))).ReadAsync<Payment>(HttpStatusCode.Created);

        await (await Pay(client, NewKey(), Body(order))).AssertProblemAsync(HttpStatusCode.Conflict);

        Assert.Equal(1, await PaymentsForAsync(order.Id));
    }

    [Fact]
    public async Task Pay_TenConcurrentKeysForOneOrder_ChargeItOnce()
    {
        var order = await PlaceOrderAsync();

        var responses = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ => PayAsync(NewKey(), Body(order))));

        Assert.Equal(1, responses.Count(response => response.StatusCode == HttpStatusCode.Created));
        Assert.All(responses, response => Assert.Contains(response.StatusCode, new[] { HttpStatusCode.Created, HttpStatusCode.Conflict }));
        Assert.Equal(1, await PaymentsForAsync(order.Id));
    }

    [Fact]
    public async Task Pay_SameKeySamePayload_ReplaysTheFirstResponse()
    {
        var order = await PlaceOrderAsync();
        var orderId = order.Id;
        var key = NewKey();
        var json = Body(order);

        var first = await PayAsync(key, json);
        // Same values, other formatting: the same payload.
        var second = await PayAsync(key, string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $$"""{ "currency": "EUR", "amount": {{order.Total:0.0000}}, "orderId": {{orderId}} }"""));

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
        var order = await PlaceOrderAsync();
        var other = await PlaceOrderAsync();
        var key = NewKey();
        await PayAsync(key, Body(order));

        var reused = await PayAsync(key, Body(other));

        Assert.Contains("Idempotency-Key", (await reused.AssertProblemAsync(HttpStatusCode.UnprocessableEntity)).GetProperty("title").GetString(), StringComparison.Ordinal);
        Assert.Equal(1, await PaymentsForAsync(order.Id));
        Assert.Equal(0, await PaymentsForAsync(other.Id));
    }

    [Fact]
    public async Task Pay_KeyHeldByARequestInFlight_Returns409()
    {
        var order = await PlaceOrderAsync();
        var key = NewKey();
        // What a request still processing leaves: a claimed, uncompleted key with a live lease.
        await ClaimAsync(key, order, age: "0 seconds");

        await (await PayAsync(key, Body(order))).AssertProblemAsync(HttpStatusCode.Conflict);

        Assert.Equal(0, await PaymentsForAsync(order.Id));
    }

    [Fact]
    public async Task Pay_KeyAbandonedPastItsLease_IsTakenOver()
    {
        var order = await PlaceOrderAsync();
        var key = NewKey();
        // What a replica that crashed mid-request leaves: a claim whose lease ran out long ago.
        await ClaimAsync(key, order, age: "1 hour");

        await (await PayAsync(key, Body(order))).ReadAsync<Payment>(HttpStatusCode.Created);

        Assert.Equal(1, await PaymentsForAsync(order.Id));
    }

    [Fact]
    public async Task Pay_TwentyConcurrentRequestsWithOneKey_WriteExactlyOnePayment()
    {
        var order = await PlaceOrderAsync();
        var key = NewKey();
        var json = Body(order);

        var responses = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => PayAsync(key, json)));

        Assert.Equal(1, await PaymentsForAsync(order.Id));
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
        var order = await PlaceOrderAsync();

        await (await PayAsync(key, Body(order))).AssertInvalidFieldAsync(PaymentsEndpoints.IdempotencyKeyHeader);

        Assert.Equal(0, await PaymentsForAsync(order.Id));
    }

    [Fact]
    public async Task Pay_OverlongKey_Returns400() =>
        await (await PayAsync(new string('k', 256), """{"orderId": 1, "amount": 1, "currency": "EUR"}""")).AssertInvalidFieldAsync(PaymentsEndpoints.IdempotencyKeyHeader);

    [Fact]
    public async Task Pay_QuotedStructuredFieldKey_IsTheSameKeyUnquoted()
    {
        var order = await PlaceOrderAsync();
        var key = NewKey();
        var json = Body(order);

        await (await PayAsync($"\"{key}\"", json)).ReadAsync<Payment>(HttpStatusCode.Created);
        var replay = await PayAsync(key, json);

        Assert.True(replay.Headers.Contains(PaymentsEndpoints.ReplayedHeader));
        Assert.Equal(1, await PaymentsForAsync(order.Id));
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
        var order = await PlaceOrderAsync();
        var key = NewKey();

        await (await PayAsync(key, """{"orderId": """)).AssertProblemAsync(HttpStatusCode.BadRequest);
        await (await PayAsync(key, Body(order))).ReadAsync<Payment>(HttpStatusCode.Created);
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

    /// <summary>Claims a key for the order's payment, as a request would, <paramref name="age"/> ago.</summary>
    private Task ClaimAsync(string key, Order order, string age) =>
        fixture.Database.ExecuteAsync(
            $"INSERT INTO idempotency_keys (key, fingerprint, locked_at) VALUES ('{key}', '\\x{Convert.ToHexString(PaymentService.Fingerprint(order.Id, order.Total, "EUR"))}', now() - interval '{age}')");

    private async Task<Order> PlaceOrderAsync() =>
        await (await _client.PostJsonAsync("/orders", """{"customerId": 1, "lines": [{"productId": 2, "quantity": 1}]}""")).ReadAsync<Order>(HttpStatusCode.Created);

    /// <summary>A payment of the order's total, in its currency.</summary>
    internal static string Body(Order order) =>
        string.Create(System.Globalization.CultureInfo.InvariantCulture, $$"""{"orderId": {{order.Id}}, "amount": {{order.Total}}, "currency": "{{order.Currency}}"}""");

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
