// The reference point of the catalog benchmark: bare ASP.NET Core, nothing of the shop's
// (no telemetry, no cache, no problem details). GET /products/{id} serializes, per request, a
// record with the shop's product shape and values, given at start in Bare:Product (the JSON the
// shop served), so both sides write the same bytes.
using System.Text.Json;

var builder = WebApplication.CreateBuilder(args);
builder.Logging.SetMinimumLevel(LogLevel.Warning);
var product = JsonSerializer.Deserialize<Product>(builder.Configuration["Bare:Product"] ?? """{"id":1,"sku":"SKU-000001","name":"Product 1","price":10.00,"stock":100,"updatedAt":"2026-01-01T00:00:00Z"}""", JsonSerializerOptions.Web)!;

var app = builder.Build();
app.MapGet("/products/{id:long}", (long id) => TypedResults.Ok(product with { Id = id }));
app.MapGet("/health/ready", () => TypedResults.Ok());
await app.RunAsync();

internal sealed record Product(long Id, string Sku, string Name, decimal Price, int Stock, DateTime UpdatedAt);
