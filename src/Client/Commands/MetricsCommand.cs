using System.CommandLine;
using RlhfActors.Abstractions.Experiments;
using RlhfActors.Abstractions.Grains;
using RlhfActors.Client.Connection;
using RlhfActors.Training.Metrics;

namespace RlhfActors.Client.Commands;

/// <summary>
/// <c>rlhf metrics &lt;run&gt; [--follow] [--json] [--cluster host:port] [--timeout s]</c>: a run's history, one line per
/// logged step. The run is an output folder (or its metrics.jsonl) read here, or an experiment id whose controller
/// reads it on its silo (the folder may not be on this machine). <c>--follow</c> keeps printing new lines: on a
/// cluster until the run finishes, locally until Ctrl+C or <c>--timeout</c>. <c>--json</c> prints the lines as the
/// file holds them.
/// </summary>
public static class MetricsCommand
{
    static readonly TimeSpan Poll = TimeSpan.FromSeconds(1);

    public static Command Create(CliContext cli)
    {
        var run = new Argument<string>("run") { Description = "An output folder (or its metrics.jsonl), or an experiment id on the cluster" };
        var follow = new Option<bool>("--follow", "-f") { Description = "Keep printing new lines (until the run finishes, Ctrl+C or --timeout)" };
        var json = new Option<bool>("--json") { Description = "Print each line as JSON, as metrics.jsonl holds it" };
        var timeout = new Option<double>("--timeout") { Description = "Stop following after this many seconds (0: no limit)" };
        var cluster = ClusterOption.Create(defaultToStandalone: true);
        var command = new Command("metrics", "Print a run's metrics history (metrics.jsonl), locally or from a cluster") { run, follow, json, timeout, cluster };
        command.SetAction((parse, cancellationToken) =>
        {
            var target = parse.GetValue(run)!;
            var options = new Options(parse.GetValue(follow), parse.GetValue(json), parse.GetValue(timeout));
            return LocalPath(target) is { } path
                ? LocalAsync(path, options, cli, cancellationToken)
                : ClusterAsync(target, parse.GetValue(cluster)!, options, cli, cancellationToken);
        });
        return command;
    }

    sealed record Options(bool Follow, bool Json, double TimeoutSeconds);

    /// <summary>The metrics file of a folder or file argument; null for an experiment id.</summary>
    static string? LocalPath(string target)
    {
        if (File.Exists(target)) return Path.GetFullPath(target);
        if (Directory.Exists(target)) return MetricsFile.PathIn(Path.GetFullPath(target));
        // Something that looks like a path but is not there is reported as one, not looked up on a cluster.
        return target.Contains('/') || target.Contains(Path.DirectorySeparatorChar) || target.EndsWith(".jsonl", StringComparison.Ordinal)
            ? Path.GetFullPath(target) : null;
    }

    static async Task<int> LocalAsync(string path, Options options, CliContext cli, CancellationToken cancellationToken)
    {
        if (!File.Exists(path) && !options.Follow)
        {
            cli.Stderr.WriteLine($"error: metrics: {path} does not exist (a run writes it in its output_dir)");
            return ExitCodes.Usage;
        }
        using var deadline = Deadline(options, cancellationToken);
        long offset = 0;
        try
        {
            while (true)
            {
                var (text, next) = MetricsFile.ReadText(path, offset, MetricsChunk.MaxBytes);
                if (!Print(text, path, options, cli)) return ExitCodes.Failed;
                var more = next > offset;
                offset = next;
                if (more) continue;
                if (!options.Follow) return ExitCodes.Ok;
                await Task.Delay(Poll, deadline.Token);
            }
        }
        catch (OperationCanceledException)
        {
            return ExitCodes.Ok;
        }
    }

    static Task<int> ClusterAsync(string id, ClusterEndpoint endpoint, Options options, CliContext cli, CancellationToken cancellationToken) =>
        ClusterCalls.GuardAsync(cli, cancellationToken, async () =>
        {
            await using var connection = await ClusterConnection.ConnectAsync(endpoint, cancellationToken);
            var experiment = connection.Client.GetGrain<IExperimentGrain>(id);
            if ((await experiment.GetStatus()).State is ExperimentState.Pending)
            {
                cli.Stderr.WriteLine($"error: no experiment '{id}' on the cluster at {endpoint}, and no folder of that name here");
                return ExitCodes.UnknownExperiment;
            }
            using var deadline = Deadline(options, cancellationToken);
            long offset = 0;
            try
            {
                while (true)
                {
                    var chunk = await experiment.ReadMetrics(offset, 0);
                    if (!Print(chunk.Lines, $"{id}: metrics.jsonl", options, cli)) return ExitCodes.Failed;
                    var more = chunk.Next > offset;
                    offset = chunk.Next;
                    if (more) continue;
                    if (!options.Follow || chunk.Finished) return ExitCodes.Ok;
                    await Task.Delay(Poll, deadline.Token);
                }
            }
            catch (OperationCanceledException) when (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                return ExitCodes.Ok;
            }
        });

    static CancellationTokenSource Deadline(Options options, CancellationToken cancellationToken)
    {
        var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (options.TimeoutSeconds > 0) deadline.CancelAfter(TimeSpan.FromSeconds(options.TimeoutSeconds));
        return deadline;
    }

    /// <summary>Prints whole lines; false (after the error) when one is not a metrics line.</summary>
    static bool Print(string text, string source, Options options, CliContext cli)
    {
        if (text.Length == 0) return true;
        try
        {
            foreach (var line in MetricsFile.Parse(text, source))
                cli.Stdout.WriteLine(options.Json ? line.ToJson() : MetricsFormat.Line(line));
            return true;
        }
        catch (InvalidDataException e)
        {
            cli.Stderr.WriteLine($"error: metrics: {e.Message}");
            return false;
        }
    }
}
