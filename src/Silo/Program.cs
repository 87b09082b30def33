using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using RlhfActors.Silo.Hosting;

// A standalone silo: `dotnet run --project src/Silo [--Rlhf:SiloPort=11111 --Rlhf:GatewayPort=30000]`, localhost by
// default, a member of a Redis cluster with --Rlhf:Redis:Endpoint=host:port (or Rlhf__Redis__Endpoint in the
// environment). The same hosting code and settings as `rlhf silo`. Runs until Ctrl+C or SIGTERM.
var builder = Host.CreateApplicationBuilder(args);
RlhfSiloOptions options;
RedisOptions redis;
try
{
    (options, redis) = SiloConfiguration.Read(builder.Configuration);
    options.Validate();
    redis.Validate();
}
catch (ArgumentException e)
{
    Console.Error.WriteLine($"error: {e.Message}");
    return 2;
}
if (redis.IsSet)
{
    try
    {
        await RedisPreflight.CheckAsync(redis);
    }
    catch (RedisUnreachableException e)
    {
        Console.Error.WriteLine($"error: {e.Message}");
        return 1;
    }
}
builder.Services.AddSingleton(Microsoft.Extensions.Options.Options.Create(options));
builder.UseOrleans(silo => silo.UseRlhfSilo(options, redis));
builder.Services.AddHostedService<SiloStartedLogger>();
await builder.Build().RunAsync();
return 0;
