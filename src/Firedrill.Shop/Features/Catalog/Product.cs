using System.ComponentModel;

namespace Firedrill.Shop.Features.Catalog;

/// <summary>
/// A product as the catalog serves it. Immutable, and marked so: HybridCache then hands out the
/// instance it holds in memory instead of deserializing a fresh copy on every cache hit.
/// </summary>
[ImmutableObject(true)]
public sealed record Product(long Id, string Sku, string Name, decimal Price, int Stock, DateTime UpdatedAt);

public sealed record PriceUpdate(decimal? Price);

public sealed record ProductPage(IReadOnlyList<Product> Items, int Page, int PageSize, long Total);

/// <summary>A bulk price import: many products repriced in one request (a supplier's price list).</summary>
public sealed record PriceImport(IReadOnlyList<PriceImportItem?>? Items);

public sealed record PriceImportItem(long? ProductId, decimal? Price);

/// <param name="Updated">The products repriced.</param>
/// <param name="Unknown">Ids in the import that match no product (nothing written for them).</param>
public sealed record PriceImportResult(IReadOnlyList<long> Updated, IReadOnlyList<long> Unknown);
