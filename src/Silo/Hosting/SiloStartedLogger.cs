using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace RlhfActors.Silo.Hosting;

/// <summary>Logs "silo started" once the host (and with it the silo) is up: the line scripts wait for.</summary>
public sealed partial class SiloStartedLogger(IHostApplicationLifetime lifetime, IOptions<RlhfSiloOptions> options,
    ILogger<SiloStartedLogger> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        var o = options.Value;
        lifetime.ApplicationStarted.Register(() => LogStarted(o.ClusterId, o.SiloPort, o.GatewayPort));
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(Level = LogLevel.Information, Message = "silo started (cluster {ClusterId}, silo port {SiloPort}, gateway port {GatewayPort}); Ctrl+C stops it")]
    private partial void LogStarted(string clusterId, int siloPort, int gatewayPort);
}
