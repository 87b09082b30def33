using System.CommandLine;
using Microsoft.Extensions.Logging;
using RlhfActors.Silo.Hosting;

namespace RlhfActors.Client.Commands;

/// <summary><c>rlhf silo [--gateway-port N] [--silo-port N]</c>: the standalone silo (as <c>src/Silo</c>: same
/// hosting code, cluster id and default ports) in the foreground until Ctrl+C, so that <c>run --detach</c> and the
/// control commands need nothing but <c>rlhf</c>.</summary>
public static class SiloCommand
{
    public static Command Create(CliContext cli)
    {
        var defaults = new RlhfSiloOptions();
        var gatewayPort = PortOption("--gateway-port", "Port clients connect to (--cluster localhost:PORT)", defaults.GatewayPort);
        var siloPort = PortOption("--silo-port", "Port for silo-to-silo traffic", defaults.SiloPort);
        var command = new Command("silo", "Run a localhost silo in the foreground until Ctrl+C") { gatewayPort, siloPort };
        command.SetAction((parse, cancellationToken) =>
            ExecuteAsync(new RlhfSiloOptions { GatewayPort = parse.GetValue(gatewayPort), SiloPort = parse.GetValue(siloPort) },
                cli, cancellationToken));
        return command;
    }

    static Option<int> PortOption(string name, string description, int defaultPort)
    {
        var option = new Option<int>(name) { Description = description, DefaultValueFactory = _ => defaultPort };
        option.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int>() is < 1 or > 65535)
                result.AddError($"{name} must be a TCP port 1-65535 (got {result.GetValueOrDefault<int>()})");
        });
        return option;
    }

    static async Task<int> ExecuteAsync(RlhfSiloOptions options, CliContext cli, CancellationToken cancellationToken)
    {
        if (options.GatewayPort == options.SiloPort)
        {
            cli.Stderr.WriteLine($"error: --gateway-port and --silo-port must differ (both {options.GatewayPort})");
            return ExitCodes.Usage;
        }

        EmbeddedSilo silo;
        try
        {
            // Information: the experiments' lines (started, evaluated, paused, stopped, completed) are the silo's log.
            silo = await EmbeddedSilo.StartAsync(options, cli.Stderr, LogLevel.Information, cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            cli.Stderr.WriteLine("cancelled");
            return ExitCodes.Cancelled;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Typically a port in use by another silo.
            cli.Stderr.WriteLine($"error: the silo did not start (silo port {options.SiloPort}, gateway port {options.GatewayPort}): {e.Message}");
            return ExitCodes.Failed;
        }
        await using (silo)
        {
            cli.Stdout.WriteLine($"silo started: gateway localhost:{options.GatewayPort}");
            cli.Stdout.Flush();
            try
            {
                await Task.Delay(Timeout.Infinite, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                // Ctrl+C: the normal way to end a foreground silo.
            }
            cli.Stderr.WriteLine("silo stopping");
        }
        return ExitCodes.Ok;
    }
}
