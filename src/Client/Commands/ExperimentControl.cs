using RlhfActors.Abstractions.Experiments;
using RlhfActors.Abstractions.Grains;
using RlhfActors.Client.Connection;
using RlhfActors.Training.Metrics;

namespace RlhfActors.Client.Commands;

/// <summary>
/// The shared body of <c>status</c>, <c>pause</c>, <c>resume</c> and <c>stop</c>: connect to the cluster, refuse an
/// id the cluster never saw started, apply the request, print the resulting status. Errors go to stderr with the
/// exit code that names them (<see cref="ExitCodes"/>).
/// </summary>
public static class ExperimentControl
{
    public static async Task<int> ExecuteAsync(string id, ClusterEndpoint endpoint, bool json, CliContext cli,
        Func<IExperimentGrain, Task<ExperimentStatus>> request, CancellationToken cancellationToken, bool withMetrics = false)
    {
        return await ClusterCalls.GuardAsync(cli, cancellationToken, async () =>
        {
            await using var connection = await ClusterConnection.ConnectAsync(endpoint, cancellationToken);
            var experiment = connection.Client.GetGrain<IExperimentGrain>(id);
            // Every grain id "exists"; Pending is what one that was never started reports.
            if ((await experiment.GetStatus()).State is ExperimentState.Pending)
            {
                cli.Stderr.WriteLine($"error: no experiment '{id}' on the cluster at {endpoint}: start one with `rlhf run <experiment.yaml> --detach`");
                return ExitCodes.UnknownExperiment;
            }
            ExperimentStatus status;
            try
            {
                status = await request(experiment);
            }
            catch (InvalidOperationException e)
            {
                cli.Stderr.WriteLine($"error: {e.Message}");
                return ExitCodes.WrongState;
            }
            var metrics = withMetrics ? await LatestMetricsAsync(experiment, cli) : null;
            if (json) cli.Stdout.WriteLine(StatusFormat.Json(status, metrics));
            else
            {
                StatusFormat.WriteText(cli.Stdout, status);
                if (metrics is not null) StatusFormat.WriteMetrics(cli.Stdout, metrics);
            }
            return ExitCodes.Ok;
        });
    }

    /// <summary>The run's last lines of metrics, for the sparkline; none (with a warning) when they cannot be read.</summary>
    static async Task<IReadOnlyList<MetricsLine>> LatestMetricsAsync(IExperimentGrain experiment, CliContext cli)
    {
        var chunk = await experiment.ReadMetrics(0, SparklineLines);
        try
        {
            return MetricsFile.Parse(chunk.Lines, "metrics.jsonl");
        }
        catch (InvalidDataException e)
        {
            cli.Stderr.WriteLine($"warning: {e.Message}");
            return [];
        }
    }

    const int SparklineLines = 40;
}
