using System.CommandLine;
using RlhfActors.Abstractions.Experiments;
using RlhfActors.Abstractions.Grains;
using RlhfActors.Client.Connection;

namespace RlhfActors.Client.Commands;

/// <summary><c>rlhf status|pause|resume|stop &lt;id&gt; [--json] [--cluster host:port]</c>: act on an experiment
/// running on a silo (started with <c>rlhf run --detach</c>) and print its status afterwards.</summary>
public static class ControlCommands
{
    public static Command Status(CliContext cli) =>
        Create(cli, "status", "Print the status of an experiment on a running silo, with its latest metrics and a sparkline", null, (e, _) => e.GetStatus(),
            withMetrics: true);

    public static Command Pause(CliContext cli) =>
        Create(cli, "pause", "Pause a running experiment after its current unit of work (the model stays in memory)",
            null, (e, _) => e.Pause());

    public static Command Resume(CliContext cli) =>
        Create(cli, "resume", "Resume a paused experiment from the step it paused at", null, (e, _) => e.Resume());

    public static Command Stop(CliContext cli)
    {
        var reason = new Option<string>("--reason")
        {
            Description = "Why, recorded in the experiment's status",
            DefaultValueFactory = _ => "stopped from the command line",
        };
        return Create(cli, "stop", "Stop an experiment after its current unit of work, checkpointing the last completed step",
            reason, (e, parse) => e.Stop(parse.GetValue(reason)!));
    }

    static Command Create(CliContext cli, string name, string description, Option? extra,
        Func<IExperimentGrain, ParseResult, Task<ExperimentStatus>> request, bool withMetrics = false)
    {
        var id = new Argument<string>("experiment") { Description = "Experiment id: the config's name, as `rlhf run --detach` printed it" };
        var json = new Option<bool>("--json") { Description = "Print the status as one JSON object" };
        var cluster = ClusterOption.Create(defaultToStandalone: true);
        var command = new Command(name, description) { id, json, cluster };
        if (extra is not null) command.Options.Add(extra);
        command.SetAction((parse, cancellationToken) => ExperimentControl.ExecuteAsync(
            parse.GetValue(id)!, parse.GetValue(cluster)!, parse.GetValue(json), cli,
            experiment => request(experiment, parse), cancellationToken, withMetrics));
        return command;
    }
}
