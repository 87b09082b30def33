using System.Text;
using System.Text.Json;
using RlhfActors.Abstractions.Grains;
using RlhfActors.Client.Connection;

namespace RlhfActors.Client.Commands;

/// <summary><c>rlhf run &lt;experiment.yaml&gt; --detach</c>: submit the experiment to a running silo and print its id
/// (the config's name), the handle for <c>status</c>, <c>pause</c>, <c>resume</c> and <c>stop</c>. The run goes on
/// in the silo after this process exits.</summary>
public static class DetachedRun
{
    public static async Task<int> ExecuteAsync(string path, ClusterEndpoint endpoint, bool json, bool fromCheckpoint, CliContext cli,
        CancellationToken cancellationToken)
    {
        if (RunCommand.LoadConfig(path, cli, fromCheckpoint) is not { } config) return ExitCodes.Usage;
        return await ClusterCalls.GuardAsync(cli, cancellationToken, async () =>
        {
            await using var connection = await ClusterConnection.ConnectAsync(endpoint, cancellationToken);
            var experiment = connection.Client.GetGrain<IExperimentGrain>(config.Name);
            if (!await ClusterCalls.TryStartAsync(experiment, config, path, cli, fromCheckpoint)) return ExitCodes.Usage;
            if (json)
            {
                var status = await experiment.GetStatus();
                cli.Stdout.WriteLine(Json(config.Name, StatusFormat.StateName(status.State)));
            }
            else
            {
                // The id alone, so that scripts can write id=$(rlhf run x.yaml --detach).
                cli.Stdout.WriteLine(config.Name);
            }
            return ExitCodes.Ok;
        });
    }

    static string Json(string id, string state)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("experiment", id);
            w.WriteString("state", state);
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }
}
