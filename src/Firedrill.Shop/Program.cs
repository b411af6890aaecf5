using Firedrill.ServiceDefaults;
using Firedrill.Shop;
using Firedrill.Shop.Data;
using Firedrill.Shop.Features.Catalog;
using Firedrill.Shop.Features.Inventory;
using Firedrill.Shop.Features.Jobs;
using Firedrill.Shop.Features.Messaging;
using Firedrill.ServiceDefaults.Http;
using Firedrill.Shop.Http;
using Firedrill.Shop.Features.Orders;
using Firedrill.Shop.Features.Payments;
using Firedrill.Shop.Features.Reports;
using Firedrill.Shop.Observability;
using Firedrill.Shop.WarmUp;
using Scalar.AspNetCore;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults("firedrill-shop", service => service with
{
    Meters = [ShopMetrics.MeterName, "Npgsql", "Polly"],
    ActivitySources = ["Npgsql", LedgerConsumer.Source.Name],
});
builder.AddShopData();
builder.AddCatalog();
builder.AddInventoryClient();
builder.AddOrders();
builder.Services.AddExceptionHandler<DependencyExceptionHandler>();
builder.AddPayments();
builder.AddMessaging();
builder.AddJobs();
builder.AddReports();
builder.Services.AddSingleton<ShopMetrics>();
builder.AddSharedRequestLimit();
builder.AddWarmUp();
builder.AddAdmissionControl();
builder.Services.AddOpenApi();
// Registered last, so it runs last: whatever no other handler took is a logged 500 problem.
builder.Services.AddExceptionHandler<UnhandledExceptionHandler>();

var app = builder.Build();

if (args is ["seed", ..])
{
    return await SeedCommand.RunAsync(app, args[1..]);
}

app.WarmUpMessaging();
await app.Services.GetRequiredService<DatabaseInitializer>().InitializeAsync(app.Lifetime.ApplicationStopping);

app.MapServiceDefaults();
app.UseReplicaHeader();
app.UseAdmissionControl();
app.UseWarmUpTracking();
app.UseRateLimiter();
app.MapOpenApi();
app.MapScalarApiReference();
app.MapCatalog();
app.MapOrders();
app.MapPayments();
app.MapReports();

await app.RunAsync();
return 0;

public partial class Program;
