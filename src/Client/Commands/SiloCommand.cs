using System.CommandLine;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using RlhfActors.Silo.Hosting;

namespace RlhfActors.Client.Commands;

/// <summary>
/// <c>rlhf silo [--redis host:port] [--silo-port N] [--gateway-port N] [--advertised-address A] [--cluster-id ID]
/// [--service-id ID] [--dashboard-port N [--dashboard-address IP]]</c>: a silo in the foreground until Ctrl+C or
/// SIGTERM, with the Orleans Dashboard at http://IP:N/ when a dashboard port is given. Without <c>--redis</c>, the standalone
/// localhost silo (as <c>src/Silo</c>: same hosting code, cluster id and default ports). With it, a member of a Redis
/// cluster. Every setting may also come from the environment (<c>Rlhf__SiloPort</c>, <c>Rlhf__Redis__Endpoint</c>,
/// <c>Rlhf__Hardware__Accelerator</c>, …; see <see cref="SiloConfiguration"/>); a flag given wins. The Redis password
/// comes only from the environment (<c>Rlhf__Redis__Password</c>).
/// </summary>
public static class SiloCommand
{
    public static Command Create(CliContext cli)
    {
        var defaults = new RlhfSiloOptions();
        var redis = new Option<string>("--redis")
        {
            Description = "Join the Redis cluster at host:port (membership, grain state and reminders in Redis); " +
                          "password and TLS from Rlhf__Redis__Password and Rlhf__Redis__Tls",
            HelpName = "host:port",
        };
        var gatewayPort = PortOption("--gateway-port", $"Port clients connect to (default {defaults.GatewayPort})");
        var siloPort = PortOption("--silo-port", $"Port for silo-to-silo traffic (default {defaults.SiloPort})");
        var advertised = new Option<string>("--advertised-address")
        {
            Description = "Address other silos and clients reach this one at (needed in containers; 127.0.0.1 keeps a local cluster on loopback)",
            HelpName = "ip-or-host",
        };
        var clusterId = new Option<string>("--cluster-id") { Description = $"Cluster id (default {defaults.ClusterId})" };
        var serviceId = new Option<string>("--service-id") { Description = $"Service id: grain state is keyed by it (default {defaults.ServiceId})" };
        var dashboardPort = PortOption("--dashboard-port", "Serve the Orleans Dashboard (HTTP) on this port; off by default");
        var dashboardAddress = new Option<string>("--dashboard-address")
        {
            Description = $"Address the dashboard listens on (default {defaults.DashboardAddress}, this machine only; 0.0.0.0 for every interface)",
            HelpName = "ip",
        };
        var command = new Command("silo", "Run a silo in the foreground until Ctrl+C: localhost, or a member of a Redis cluster (--redis)")
        {
            redis, gatewayPort, siloPort, advertised, clusterId, serviceId, dashboardPort, dashboardAddress,
        };
        command.SetAction((parse, cancellationToken) =>
        {
            var configuration = SiloConfiguration.FromEnvironment();
            RlhfSiloOptions options;
            RedisOptions redisOptions;
            try
            {
                (options, redisOptions) = SiloConfiguration.Read(configuration);
            }
            catch (ArgumentException e)
            {
                cli.Stderr.WriteLine($"error: {e.Message}");
                return Task.FromResult(ExitCodes.Usage);
            }
            // A flag given on the command line wins over the environment.
            if (parse.GetResult(redis) is not null) redisOptions.Endpoint = parse.GetValue(redis);
            if (parse.GetResult(gatewayPort) is not null) options.GatewayPort = parse.GetValue(gatewayPort);
            if (parse.GetResult(siloPort) is not null) options.SiloPort = parse.GetValue(siloPort);
            if (parse.GetResult(advertised) is not null) options.AdvertisedAddress = parse.GetValue(advertised);
            if (parse.GetResult(clusterId) is not null) options.ClusterId = parse.GetValue(clusterId)!;
            if (parse.GetResult(serviceId) is not null) options.ServiceId = parse.GetValue(serviceId)!;
            if (parse.GetResult(dashboardPort) is not null) options.DashboardPort = parse.GetValue(dashboardPort);
            if (parse.GetResult(dashboardAddress) is not null) options.DashboardAddress = parse.GetValue(dashboardAddress)!;
            return ExecuteAsync(options, redisOptions, configuration, cli, cancellationToken);
        });
        return command;
    }

    static Option<int> PortOption(string name, string description)
    {
        var option = new Option<int>(name) { Description = description };
        option.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int>() is < 1 or > 65535)
                result.AddError($"{name} must be a TCP port 1-65535 (got {result.GetValueOrDefault<int>()})");
        });
        return option;
    }

    static async Task<int> ExecuteAsync(RlhfSiloOptions options, RedisOptions redis, IConfiguration configuration, CliContext cli,
        CancellationToken cancellationToken)
    {
        if (options.GatewayPort == options.SiloPort)
        {
            // Named as the user most likely set them; Rlhf__GatewayPort / Rlhf__SiloPort are the same settings.
            cli.Stderr.WriteLine($"error: --gateway-port and --silo-port must differ (both {options.GatewayPort})");
            return ExitCodes.Usage;
        }
        try
        {
            options.Validate();
            redis.Validate();
        }
        catch (ArgumentException e)
        {
            cli.Stderr.WriteLine($"error: {e.Message}");
            return ExitCodes.Usage;
        }

        EmbeddedSilo silo;
        try
        {
            // Information: the experiments' lines (started, evaluated, paused, stopped, completed) are the silo's log.
            silo = await EmbeddedSilo.StartAsync(options, redis, configuration, cli.Stderr, LogLevel.Information, cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            cli.Stderr.WriteLine("cancelled");
            return ExitCodes.Cancelled;
        }
        catch (RedisUnreachableException e)
        {
            cli.Stderr.WriteLine($"error: {e.Message}");
            return ExitCodes.Failed;
        }
        catch (ArgumentException e)
        {
            cli.Stderr.WriteLine($"error: {e.Message}");
            return ExitCodes.Usage;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Typically a port in use by another silo. The message only: the exception's stack is Orleans' start-up.
            var dashboard = options.DashboardEndpoint() is { } endpoint ? $", dashboard {endpoint}" : "";
            cli.Stderr.WriteLine($"error: the silo did not start (silo port {options.SiloPort}, gateway port {options.GatewayPort}{dashboard}): {e.Message}");
            return ExitCodes.Failed;
        }
        await using (silo)
        {
            var dashboardUrl = options.DashboardEndpoint() is { } dashboard ? $"; dashboard {DashboardStartedLogger.Url(dashboard)}" : "";
            if (redis.IsSet)
                cli.Stdout.WriteLine($"silo started: cluster {options.ClusterId} on {redis.Describe()}, silo port {options.SiloPort}, " +
                                     $"gateway port {options.GatewayPort}; clients connect with --cluster {redis.Describe()}{dashboardUrl}");
            else
                cli.Stdout.WriteLine($"silo started: gateway localhost:{options.GatewayPort}{dashboardUrl}");
            cli.Stdout.Flush();
            try
            {
                await Task.Delay(Timeout.Infinite, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                // Ctrl+C or SIGTERM: the normal way to end a foreground silo.
            }
            cli.Stderr.WriteLine("silo stopping");
        }
        cli.Stderr.WriteLine("silo stopped");
        return ExitCodes.Ok;
    }
}
