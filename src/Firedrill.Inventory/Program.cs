using Firedrill.Inventory;
using Firedrill.Inventory.Faults;
using Firedrill.Inventory.Features.Stock;
using Firedrill.Inventory.Features.Sync;
using Firedrill.Inventory.Observability;
using Firedrill.ServiceDefaults;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults("firedrill-inventory", service => service with { Meters = [InventoryMetrics.MeterName] });
builder.Services.AddInventoryOptions();
builder.Services.AddSingleton<InventoryMetrics>();
builder.Services.AddStock();
builder.Services.AddSync();
builder.Services.AddInjectedFaults();
builder.Services.AddOpenApi();

var app = builder.Build();
app.MapServiceDefaults();
app.MapOpenApi();
app.MapStock().MapSync().WithInjectedFaults();

await app.RunAsync();

public partial class Program;
