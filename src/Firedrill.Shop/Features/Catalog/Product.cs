namespace Firedrill.Shop.Features.Catalog;

public sealed record Product(long Id, string Sku, string Name, decimal Price, int Stock, DateTime UpdatedAt);

public sealed record PriceUpdate(decimal? Price);

public sealed record ProductPage(IReadOnlyList<Product> Items, int Page, int PageSize, long Total);
