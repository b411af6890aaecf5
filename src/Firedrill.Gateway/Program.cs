using Firedrill.ServiceDefaults;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults("firedrill-gateway");

var app = builder.Build();
app.MapServiceDefaults();
await app.RunAsync();

public partial class Program;
