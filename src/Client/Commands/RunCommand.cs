using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using RlhfActors.Grains.Specs;
using Microsoft.Extensions.Logging;
using RlhfActors.Abstractions.Config;
using RlhfActors.Abstractions.Experiments;
using RlhfActors.Abstractions.Grains;
using RlhfActors.Client.Config;
using RlhfActors.Client.Connection;
using RlhfActors.Client.Progress;
using RlhfActors.Grains.Experiments;
using RlhfActors.Silo.Hosting;

namespace RlhfActors.Client.Commands;

/// <summary><c>rlhf run &lt;experiment.yaml&gt; [--json] [--detach] [--cluster host:port]</c>: validate the config, then
/// run the experiment to the end with a progress display on a silo of its own (the default) or on a running silo
/// (<c>--cluster</c>), or with <c>--detach</c> submit it to a running silo and print its id.</summary>
public static class RunCommand
{
    static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(500);

    public static Command Create(CliContext cli)
    {
        var file = new Argument<string>("experiment") { Description = "Experiment config (YAML), e.g. experiments/sft-arithmetic.yaml" };
        var json = new Option<bool>("--json")
        {
            Description = "Print progress on stderr and, as the last line of stdout, one JSON object with the result",
        };
        var detach = new Option<bool>("--detach")
        {
            Description = $"Submit to a running silo (--cluster, default {ClusterEndpoint.Default}), print the experiment id and return; " +
                          "follow it with `rlhf status <id>`",
        };
        var resume = new Option<bool>("--resume")
        {
            Description = "Continue the run from the newest checkpoint in its output_dir (trained with this same config; sft runs)",
        };
        // No default here: without --cluster (and without --detach) run hosts its own silo, as it always did.
        var cluster = ClusterOption.Create(defaultToStandalone: false);
        var command = new Command("run", "Run an experiment to the end on an in-process silo, or submit it to a running one")
        {
            file, json, detach, resume, cluster,
        };
        command.SetAction((parse, cancellationToken) =>
        {
            var path = parse.GetValue(file)!;
            var endpoint = parse.GetValue(cluster);
            var fromCheckpoint = parse.GetValue(resume);
            return parse.GetValue(detach)
                ? DetachedRun.ExecuteAsync(path, endpoint ?? ClusterEndpoint.Default, parse.GetValue(json), fromCheckpoint, cli, cancellationToken)
                : ExecuteAsync(path, endpoint, parse.GetValue(json), fromCheckpoint, cli, cancellationToken);
        });
        return command;
    }

    /// <summary>Loads and checks the experiment file as every form of run does; null after printing the errors.</summary>
    /// <param name="fromCheckpoint">--resume: output_dir is expected to hold the run's checkpoints (the controller
    /// checks they were trained with this config).</param>
    internal static ExperimentConfig? LoadConfig(string path, CliContext cli, bool fromCheckpoint = false)
    {
        ExperimentConfig config;
        try
        {
            // Reads the datasets, pairs and model config too: a bad input is exit 2 here, not minutes into the run.
            config = ExperimentYamlLoader.Load(path, readInputs: true);
        }
        catch (ConfigLoadException e)
        {
            foreach (var error in e.Errors) cli.Stderr.WriteLine($"error: {error}");
            return null;
        }
        if (!fromCheckpoint && OutputDirectory.EarlierCheckpoint(config.OutputDir) is { } earlier)
        {
            cli.Stderr.WriteLine($"error: {path}: output_dir '{config.OutputDir}' already holds {earlier} from an earlier run; " +
                                 "remove it, choose another output_dir, or continue that run with --resume");
            return null;
        }
        return config;
    }

    static async Task<int> ExecuteAsync(string path, ClusterEndpoint? endpoint, bool json, bool fromCheckpoint, CliContext cli,
        CancellationToken cancellationToken)
    {
        if (LoadConfig(path, cli, fromCheckpoint) is not { } config) return ExitCodes.Usage;

        var interactive = !json && cli.StdoutIsTerminal;
        var progress = new ProgressReporter(interactive ? cli.Stdout : cli.Stderr, interactive);
        return await ClusterCalls.GuardAsync(cli, cancellationToken, async () =>
        {
            // Either a silo of its own (the default) or a connection to a running one.
            await using IAsyncDisposable owner = endpoint is null
                ? await EmbeddedSilo.StartAsync(cli.Stderr, LogLevel.Warning, cancellationToken)
                : await ClusterConnection.ConnectAsync(endpoint, cancellationToken);
            var client = owner switch
            {
                EmbeddedSilo silo => silo.Client,
                ClusterConnection connection => connection.Client,
                _ => throw new InvalidOperationException($"unexpected {owner.GetType().Name}"),
            };
            var experiment = client.GetGrain<IExperimentGrain>(config.Name);
            if (!await ClusterCalls.TryStartAsync(experiment, config, path, cli, fromCheckpoint)) return ExitCodes.Usage;

            ExperimentStatus status;
            try
            {
                status = await PollUntilFinishedAsync(experiment, progress, cancellationToken);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                // Stop the loop before the silo goes away, so the run ends cleanly instead of calling into a
                // silo that is shutting down.
                progress.Finish();
                var stopped = await experiment.Stop("interrupted (Ctrl+C)");
                var checkpoint = stopped.CheckpointPath is { } saved ? $"; checkpoint: {saved}" : "";
                cli.Stderr.WriteLine($"stopped: experiment '{config.Name}' at step {stopped.Step}/{stopped.TotalSteps}{checkpoint}");
                return ExitCodes.Cancelled;
            }
            progress.Finish();
            if (status.State is not ExperimentState.Completed)
            {
                cli.Stderr.WriteLine($"error: experiment '{config.Name}' {status.State.ToString().ToLowerInvariant()} at step {status.Step}/{status.TotalSteps}: {status.Error}");
                if (json) cli.Stdout.WriteLine(FailureJson(config, status));
                return ExitCodes.Failed;
            }
            var result = await experiment.GetResult()
                         ?? throw new InvalidOperationException($"experiment '{config.Name}' completed without a result");
            if (json) cli.Stdout.WriteLine(ResultJson(config, result));
            else WriteSummary(cli.Stdout, result);
            return ExitCodes.Ok;
        });
    }

    static async Task<ExperimentStatus> PollUntilFinishedAsync(IExperimentGrain experiment, ProgressReporter progress,
        CancellationToken cancellationToken)
    {
        while (true)
        {
            var status = await experiment.GetStatus();
            progress.Report(status);
            if (status.IsFinished) return status;
            await Task.Delay(PollInterval, cancellationToken);
        }
    }

    /// <summary>The one-line JSON of <c>--json</c> when the run did not complete: its state, where it stopped and why.</summary>
    public static string FailureJson(ExperimentConfig config, ExperimentStatus status) => new System.Text.Json.Nodes.JsonObject
    {
        ["experiment"] = config.Name,
        ["state"] = status.State.ToString(),
        ["step"] = status.Step,
        ["total_steps"] = status.TotalSteps,
        ["error"] = status.Error,
        ["checkpoint"] = status.CheckpointPath,
    }.ToJsonString();

    /// <summary>The one-line JSON result of <c>--json</c> (benchmarks and scripts parse it).</summary>
    public static string ResultJson(ExperimentConfig config, ExperimentResult result)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("experiment", config.Name);
            w.WriteString("algorithm", result.Algorithm);
            w.WriteNumber("steps", result.Steps);
            w.WriteNumber("wall_s", Math.Round(result.WallSeconds, 3));
            w.WriteNumber("train_tokens_per_s", Math.Round(result.TrainTokensPerSecond, 1));
            WriteNumberOrNull(w, "final_loss", result.FinalLoss);
            w.WriteStartObject("eval");
            WriteNumberOrNull(w, "accuracy_before", result.AccuracyBefore);
            WriteNumberOrNull(w, "accuracy_after", result.AccuracyAfter);
            if (result.AccuracyAtStart is { } atStart) w.WriteNumber("accuracy_at_start", atStart);
            w.WriteEndObject();
            if (result.Grpo is { } g) StatusFormat.WriteGrpo(w, g);
            if (result.Stages.Length > 1) WriteStages(w, result.Stages);
            if (!result.Rounds.IsDefaultOrEmpty) WriteRounds(w, result.Rounds);
            if (!result.Retention.IsDefaultOrEmpty) WriteRetention(w, result.Retention);
            w.WriteString("checkpoint", result.CheckpointPath);
            // What the scores above trace to: the whole config's hash (as the checkpoint's manifest records it) and
            // this code's version; `rlhf verify <checkpoint>` prints the rest of the lineage.
            w.WriteString("config_sha256", Digests.ConfigSha256(config));
            w.WriteString("code_version", RlhfActors.Training.IO.CodeVersions.Code);
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>Each stage of a multi-stage run (sft → reward_model → ppo, sft → dpo, …) with its own figures.</summary>
    static void WriteStages(Utf8JsonWriter w, System.Collections.Immutable.ImmutableArray<StageSummary> stages)
    {
        w.WriteStartArray("stages");
        foreach (var stage in stages)
        {
            w.WriteStartObject();
            w.WriteString("name", stage.Name);
            w.WriteNumber("steps", stage.Steps);
            w.WriteNumber("seconds", Math.Round(stage.Seconds, 3));
            w.WriteStartObject("metrics");
            foreach (var (name, value) in stage.Metrics) WriteNumberOrNull(w, name, Math.Round(value, 6));
            w.WriteEndObject();
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }

    /// <summary>RLAIF: one entry per round, with the policy's held-out accuracy after it.</summary>
    static void WriteRounds(Utf8JsonWriter w, System.Collections.Immutable.ImmutableArray<RlaifRoundSummary> rounds)
    {
        w.WriteStartArray("rounds");
        foreach (var r in rounds)
        {
            w.WriteStartObject();
            w.WriteNumber("round", r.Round);
            w.WriteNumber("pairs", r.Pairs);
            w.WriteNumber("skipped", r.Skipped);
            w.WriteNumber("uncertain", r.Uncertain);
            w.WriteNumber("order_disagreements", r.OrderDisagreements);
            WriteNumberOrNull(w, "judge_agreement", r.JudgeAgreement);
            WriteNumberOrNull(w, "chosen_correct", r.ChosenCorrect);
            WriteNumberOrNull(w, "dpo_loss", r.Loss);
            WriteNumberOrNull(w, "dpo_margin", r.Margin);
            w.WriteNumber("accuracy", r.AccuracyAfter);
            w.WriteNumber("seconds", Math.Round(r.Seconds, 3));
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }

    /// <summary>The forgetting watch: each watched task's accuracy before training, at the end, and their ratio.</summary>
    static void WriteRetention(Utf8JsonWriter w, System.Collections.Immutable.ImmutableArray<RetentionSummary> retention)
    {
        w.WriteStartArray("retention");
        foreach (var r in retention)
        {
            w.WriteStartObject();
            w.WriteString("task", r.Name);
            w.WriteNumber("accuracy_before", r.Before);
            w.WriteNumber("accuracy_after", r.Latest);
            WriteNumberOrNull(w, "retention", r.Retention);
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }

    static void WriteNumberOrNull(Utf8JsonWriter w, string name, double? value)
    {
        if (value is { } v && double.IsFinite(v)) w.WriteNumber(name, v);
        else w.WriteNull(name);
    }

    static void WriteSummary(TextWriter stdout, ExperimentResult r)
    {
        string F(double v, string format) => v.ToString(format, CultureInfo.InvariantCulture);
        stdout.WriteLine($"experiment '{r.ExperimentId}' completed: {r.Steps} {r.Algorithm} steps in {F(r.WallSeconds, "F1")} s " +
                         $"({F(r.TrainTokensPerSecond, "F0")} train tokens/s)");
        var before = r.AccuracyAtStart is null ? "before" : "after the SFT warm-up";
        stdout.WriteLine($"held-out accuracy: {F(100 * r.AccuracyBefore, "F1")}% {before}, {F(100 * r.AccuracyAfter, "F1")}% after");
        if (r.Grpo is { } g)
            stdout.WriteLine($"grpo: {g.Steps} updates, mean reward {F(g.RecentMeanReward ?? double.NaN, "F3")}, " +
                             $"kl {(g.LastKl is { } kl ? F(kl, "F4") : "n/a (beta = 0)")}, stale rollouts {g.StaleRollouts}, dropped {g.DroppedRollouts}");
        foreach (var stage in r.Stages.Length > 1 ? r.Stages : [])
            stdout.WriteLine($"stage {stage.Name}: {stage.Steps} steps in {F(stage.Seconds, "F1")} s; " +
                             string.Join(", ", stage.Metrics.Select(m => $"{m.Key} {F(m.Value, "G4")}")));
        foreach (var round in r.Rounds.IsDefault ? [] : r.Rounds)
            stdout.WriteLine($"round {round.Round}: {round.Pairs} judged pairs{(round.Uncertain > 0 ? $" ({round.Uncertain} too uncertain)" : "")}, judge agreement {(round.JudgeAgreement is { } a ? F(a, "F3") : "n/a")}, accuracy {F(100 * round.AccuracyAfter, "F1")}%");
        foreach (var watch in r.Retention.IsDefault ? [] : r.Retention)
            stdout.WriteLine($"watched task {watch.Name}: {F(100 * watch.Before, "F1")}% before, {F(100 * watch.Latest, "F1")}% after" +
                             (watch.Retention is { } ret ? $" (retention {F(ret, "F3")})" : ""));
        stdout.WriteLine($"checkpoint: {r.CheckpointPath}");
    }
}
