using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using RlhfActors.Silo.Hosting;

// A standalone localhost silo: `dotnet run --project src/Silo [--Rlhf:SiloPort=11111 --Rlhf:GatewayPort=30000]`.
// Runs until Ctrl+C.
var builder = Host.CreateApplicationBuilder(args);
var options = builder.Configuration.GetSection(RlhfSiloOptions.Section).Get<RlhfSiloOptions>() ?? new RlhfSiloOptions();
try
{
    options.Validate();
}
catch (ArgumentException e)
{
    Console.Error.WriteLine($"error: {e.Message}");
    return 2;
}
builder.Services.AddSingleton(Microsoft.Extensions.Options.Options.Create(options));
builder.UseOrleans(silo => silo.UseRlhfSilo(options));
builder.Services.AddHostedService<SiloStartedLogger>();
await builder.Build().RunAsync();
return 0;
