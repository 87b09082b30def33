using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using RlhfActors.Silo.Hosting;

// A standalone silo: `dotnet run --project src/Silo [--Rlhf:SiloPort=11111 --Rlhf:GatewayPort=30000]`, localhost by
// default, a member of a Redis cluster with --Rlhf:Redis:Endpoint=host:port (or Rlhf__Redis__Endpoint in the
// environment). With --Rlhf:DashboardPort=N it serves the Orleans Dashboard on 127.0.0.1:N (Rlhf:DashboardAddress for
// another address). The same hosting code and settings as `rlhf silo`. Runs until Ctrl+C or SIGTERM.

Gen0Budget.EnsureOrReexec();

// The settings are read before the host exists: whether it is a web host too depends on Rlhf:DashboardPort. Environment,
// then command line (which wins), as the host's own configuration orders them.
var settings = new ConfigurationBuilder().AddEnvironmentVariables().AddCommandLine(args).Build();
RlhfSiloOptions options;
RedisOptions redis;
try
{
    (options, redis) = SiloConfiguration.Read(settings);
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
var builder = SiloHost.CreateBuilder(options, args);
builder.Services.AddSingleton(Microsoft.Extensions.Options.Options.Create(options));
builder.UseOrleans(silo => silo.UseRlhfSilo(options, redis));
builder.Services.AddHostedService<SiloStartedLogger>();
await SiloHost.Build(builder).RunAsync();
return 0;
