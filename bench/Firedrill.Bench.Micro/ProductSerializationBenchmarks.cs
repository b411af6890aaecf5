using System.Text.Json;
using BenchmarkDotNet.Attributes;
using Firedrill.Shop.Features.Catalog;

namespace Firedrill.Bench.Micro;

/// <summary>
/// What a catalog hit pays to turn a product into its response body. ASP.NET Core's minimal APIs
/// serialise with the web defaults (<see cref="JsonSerializerOptions.Web"/>), so that is what is
/// measured: one product (GET /products/{id}) and a page of 20.
/// </summary>
public class ProductSerializationBenchmarks
{
    private static readonly DateTime UpdatedAt = new(2025, 11, 23, 18, 0, 0, DateTimeKind.Utc);

    private readonly Product _product = new(42, "SKU-000042", "Espresso machine, stainless steel", 349.99m, 17, UpdatedAt);
    private readonly ProductPage _page = new(
        [.. Enumerable.Range(1, 20).Select(i => new Product(i, $"SKU-{i:D6}", $"Product number {i}", 10m + i, i * 3, UpdatedAt))],
        Page: 1,
        PageSize: 20,
        Total: 10_000);

    [Benchmark(Baseline = true)]
    public byte[] SerializeProduct() => JsonSerializer.SerializeToUtf8Bytes(_product, JsonSerializerOptions.Web);

    [Benchmark]
    public byte[] SerializePageOf20() => JsonSerializer.SerializeToUtf8Bytes(_page, JsonSerializerOptions.Web);
}
