using Firedrill.ServiceDefaults;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults("firedrill-inventory");

var app = builder.Build();
app.MapServiceDefaults();
await app.RunAsync();

public partial class Program;
