using System.Net;
using Firedrill.Inventory.Tests.Support;

namespace Firedrill.Inventory.Tests.Features.Stock;

/// <summary>One small inventory (50 SKUs of 100 units) for the class; each test uses SKUs of its own.</summary>
public sealed class SmallInventoryFixture : IDisposable
{
    public const int InitialStock = 100;

    public InventoryInstance Instance { get; } = new(new Dictionary<string, string?>
    {
        ["Inventory:Skus"] = "50",
        ["Inventory:InitialStock"] = InitialStock.ToString(System.Globalization.CultureInfo.InvariantCulture),
    });

    public void Dispose() => Instance.Dispose();
}

public sealed class StockEndpointsTests(SmallInventoryFixture fixture) : IClassFixture<SmallInventoryFixture>
{
    private readonly HttpClient _client = fixture.Instance.Client;

    [Fact]
    public async Task Get_KnownSku_ReturnsSkuAndAvailable()
    {
        var body = await (await _client.GetAsync("/inventory/SKU-000001")).Content.ReadAsStringAsync();

        Assert.Equal("""{"sku":"SKU-000001","available":100}""", body);
    }

    [Fact]
    public async Task Get_DefaultSeed_HasAThousandSkusOfAMillionUnits()
    {
        using var inventory = new InventoryInstance();

        Assert.Equal(1_000_000, await inventory.Client.AvailableAsync("SKU-000001"));
        Assert.Equal(1_000_000, await inventory.Client.AvailableAsync("SKU-001000"));
        await (await inventory.Client.GetAsync("/inventory/SKU-001001")).AssertProblemAsync(HttpStatusCode.NotFound);
    }

    [Theory]
    [InlineData("SKU-000051")]
    [InlineData("SKU-000000")]
    [InlineData("SKU-999999")]
    public async Task Get_UnknownSku_Returns404Problem(string sku)
    {
        await (await _client.GetAsync($"/inventory/{sku}")).AssertProblemAsync(HttpStatusCode.NotFound);
    }

    [Theory]
    [InlineData("abc")]
    [InlineData("SKU-1")]
    [InlineData("sku-000001")]
    [InlineData("SKU-00000A")]
    [InlineData("SKU-0000001")]
    public async Task Get_MalformedSku_Returns400NamingSku(string sku)
    {
        await (await _client.GetAsync($"/inventory/{sku}")).AssertInvalidFieldAsync("sku");
    }

    [Fact]
    public async Task Reserve_ValidLines_Returns201WithLocationAndTakesStock()
    {
        var response = await _client.PostJsonAsync("/inventory/reservations",
            """{"orderRef": "order-2", "lines": [{"sku": "SKU-000002", "quantity": 3}, {"sku": "SKU-000003", "quantity": 1}]}""");
        var reservation = await response.ReadJsonAsync(HttpStatusCode.Created);

        Assert.Equal("/inventory/reservations/order-2", response.Headers.Location?.OriginalString);
        Assert.Equal("""{"orderRef":"order-2","lines":[{"sku":"SKU-000002","quantity":3},{"sku":"SKU-000003","quantity":1}]}""", reservation.GetRawText());
        Assert.Equal(97, await _client.AvailableAsync("SKU-000002"));
        Assert.Equal(99, await _client.AvailableAsync("SKU-000003"));
    }

    [Fact]
    public async Task Reserve_OneLineShort_Returns409AndReservesNothing()
    {
        var response = await _client.PostJsonAsync("/inventory/reservations",
            """{"orderRef": "order-4", "lines": [{"sku": "SKU-000004", "quantity": 5}, {"sku": "SKU-000005", "quantity": 101}]}""");

        var problem = await response.AssertProblemAsync(HttpStatusCode.Conflict);
        Assert.Contains("SKU-000005", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(100, await _client.AvailableAsync("SKU-000004"));
        Assert.Equal(100, await _client.AvailableAsync("SKU-000005"));
        await (await _client.DeleteAsync("/inventory/reservations/order-4")).AssertProblemAsync(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Reserve_UnknownSku_Returns404AndReservesNothing()
    {
        var response = await _client.PostJsonAsync("/inventory/reservations",
            """{"orderRef": "order-6", "lines": [{"sku": "SKU-000006", "quantity": 1}, {"sku": "SKU-000999", "quantity": 1}]}""");

        await response.AssertProblemAsync(HttpStatusCode.NotFound);
        Assert.Equal(100, await _client.AvailableAsync("SKU-000006"));
    }

    [Fact]
    public async Task Reserve_SameOrderRefSameLines_ReplaysAndTakesStockOnce()
    {
        var first = await _client.PostJsonAsync("/inventory/reservations",
            """{"orderRef": "order-7", "lines": [{"sku": "SKU-000007", "quantity": 2}, {"sku": "SKU-000008", "quantity": 4}]}""");
        var again = await _client.PostJsonAsync("/inventory/reservations",
            """{"orderRef": "order-7", "lines": [{"sku": "SKU-000008", "quantity": 4}, {"sku": "SKU-000007", "quantity": 2}]}""");

        var original = await first.ReadJsonAsync(HttpStatusCode.Created);
        var replayed = await again.ReadJsonAsync(HttpStatusCode.Created);
        Assert.Equal(original.GetRawText(), replayed.GetRawText());
        Assert.Equal(first.Headers.Location, again.Headers.Location);
        Assert.Equal("true", Assert.Single(again.Headers.GetValues("Idempotent-Replayed")));
        Assert.Equal(98, await _client.AvailableAsync("SKU-000007"));
        Assert.Equal(96, await _client.AvailableAsync("SKU-000008"));
    }

    [Fact]
    public async Task Reserve_SameOrderRefOtherLines_Returns409AndTakesNothingMore()
    {
        await (await _client.PostJsonAsync("/inventory/reservations",
            """{"orderRef": "order-9", "lines": [{"sku": "SKU-000009", "quantity": 1}]}""")).ReadJsonAsync(HttpStatusCode.Created);

        var response = await _client.PostJsonAsync("/inventory/reservations",
            """{"orderRef": "order-9", "lines": [{"sku": "SKU-000009", "quantity": 2}]}""");

        await response.AssertProblemAsync(HttpStatusCode.Conflict);
        Assert.Equal(99, await _client.AvailableAsync("SKU-000009"));
    }

    [Fact]
    public async Task Release_Reserved_Returns204AndGivesTheStockBack()
    {
        var reserved = await _client.PostJsonAsync("/inventory/reservations",
            """{"orderRef": "order 10/ü", "lines": [{"sku": "SKU-000010", "quantity": 10}, {"sku": "SKU-000011", "quantity": 1}]}""");
        await reserved.ReadJsonAsync(HttpStatusCode.Created);
        Assert.Equal(90, await _client.AvailableAsync("SKU-000010"));

        var response = await _client.DeleteAsync(reserved.Headers.Location);

        Assert.Equal("/inventory/reservations/order%2010%2F%C3%BC", reserved.Headers.Location?.OriginalString);
        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Equal(100, await _client.AvailableAsync("SKU-000010"));
        Assert.Equal(100, await _client.AvailableAsync("SKU-000011"));
        await (await _client.DeleteAsync(reserved.Headers.Location)).AssertProblemAsync(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Release_Unknown_Returns404Problem()
    {
        await (await _client.DeleteAsync("/inventory/reservations/never-reserved")).AssertProblemAsync(HttpStatusCode.NotFound);
    }

    public static TheoryData<string, string> InvalidReservations => new()
    {
        { """{"lines": [{"sku": "SKU-000012", "quantity": 1}]}""", "orderRef" },
        { """{"orderRef": "", "lines": [{"sku": "SKU-000012", "quantity": 1}]}""", "orderRef" },
        { $$"""{"orderRef": "{{new string('x', 101)}}", "lines": [{"sku": "SKU-000012", "quantity": 1}]}""", "orderRef" },
        { """{"orderRef": "bad"}""", "lines" },
        { """{"orderRef": "bad", "lines": []}""", "lines" },
        { $$"""{"orderRef": "bad", "lines": [{{string.Join(", ", Enumerable.Range(1, 51).Select(i => $$"""{"sku": "SKU-{{i:D6}}", "quantity": 1}"""))}}]}""", "lines" },
        { """{"orderRef": "bad", "lines": [null]}""", "lines[0]" },
        { """{"orderRef": "bad", "lines": [{"quantity": 1}]}""", "lines[0].sku" },
        { """{"orderRef": "bad", "lines": [{"sku": "12", "quantity": 1}]}""", "lines[0].sku" },
        { """{"orderRef": "bad", "lines": [{"sku": "SKU-000012"}]}""", "lines[0].quantity" },
        { """{"orderRef": "bad", "lines": [{"sku": "SKU-000012", "quantity": 0}]}""", "lines[0].quantity" },
        { """{"orderRef": "bad", "lines": [{"sku": "SKU-000012", "quantity": 1001}]}""", "lines[0].quantity" },
        { """{"orderRef": "bad", "lines": [{"sku": "SKU-000012", "quantity": 1}, {"sku": "SKU-000012", "quantity": 1}]}""", "lines[1].sku" },
        { """{"orderRef": "bad", "lines": [{"sku": "SKU-000012", "quantity": "two"}]}""", "lines[0].quantity" },
    };

    [Theory]
    [MemberData(nameof(InvalidReservations))]
    public async Task Reserve_Invalid_Returns400NamingTheFieldAndTakesNothing(string json, string field)
    {
        await (await _client.PostJsonAsync("/inventory/reservations", json)).AssertInvalidFieldAsync(field);

        Assert.Equal(100, await _client.AvailableAsync("SKU-000012"));
    }

    [Theory]
    [InlineData("""{"orderRef": "bad", "lines": [""")]
    [InlineData("not json")]
    [InlineData("")]
    public async Task Reserve_MalformedJson_Returns400Problem(string json)
    {
        await (await _client.PostJsonAsync("/inventory/reservations", json)).AssertProblemAsync(HttpStatusCode.BadRequest);
    }
}
