using Firedrill.Gateway.Health;
using Firedrill.Gateway.Limits;
using Firedrill.Gateway.Routing;
using Firedrill.ServiceDefaults;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults("firedrill-gateway", service => service with { ActivitySources = ["Yarp.ReverseProxy"], Meters = [DestinationsMetrics.MeterName] });
builder.AddGatewayLimits();
builder.AddGatewayRouting();
builder.Services.AddGatewayHealth();

var app = builder.Build();
// The gauge observes YARP's state from the first scrape on.
app.Services.GetRequiredService<DestinationsMetrics>();
app.MapServiceDefaults();
app.UseGatewayLimits();
app.MapGatewayRouting();

await app.RunAsync();

public partial class Program;
