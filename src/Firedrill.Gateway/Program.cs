using Firedrill.Gateway.Health;
using Firedrill.Gateway.Limits;
using Firedrill.Gateway.Routing;
using Firedrill.ServiceDefaults;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults("firedrill-gateway", service => service with { ActivitySources = ["Yarp.ReverseProxy"] });
builder.AddGatewayLimits();
builder.AddGatewayRouting();
builder.Services.AddGatewayHealth();

var app = builder.Build();
app.MapServiceDefaults();
app.UseGatewayLimits();
app.MapGatewayRouting();

await app.RunAsync();

public partial class Program;
