using RlhfActors.Abstractions.Config;
using RlhfActors.Abstractions.Grains;
using RlhfActors.Client.Connection;

namespace RlhfActors.Client.Commands;

/// <summary>What every command that talks to a cluster reports the same way.</summary>
static class ClusterCalls
{
    /// <summary>Runs <paramref name="body"/>; no silo at the endpoint and Ctrl+C become their exit codes.</summary>
    public static async Task<int> GuardAsync(CliContext cli, CancellationToken cancellationToken, Func<Task<int>> body)
    {
        try
        {
            return await body();
        }
        catch (NoSiloException e)
        {
            cli.Stderr.WriteLine($"error: {e.Message}");
            return ExitCodes.NoSilo;
        }
        catch (ClientSettingsException e)
        {
            cli.Stderr.WriteLine($"error: {e.Message}");
            return ExitCodes.Usage;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Interrupted while connecting or while a silo was starting.
            cli.Stderr.WriteLine("cancelled");
            return ExitCodes.Cancelled;
        }
    }

    /// <summary>Starts the experiment; a config the grain refuses (or a run already in progress) is reported against
    /// <paramref name="path"/> and gives false.</summary>
    public static async Task<bool> TryStartAsync(IExperimentGrain experiment, ExperimentConfig config, string path, CliContext cli,
        bool fromCheckpoint = false)
    {
        try
        {
            if (fromCheckpoint) await experiment.StartFromCheckpoint(config);
            else await experiment.Start(config);
            return true;
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException)
        {
            cli.Stderr.WriteLine($"error: {path}: {e.Message}");
            return false;
        }
    }
}
