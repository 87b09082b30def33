using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using RlhfActors.Abstractions.Config;
using RlhfActors.Abstractions.Experiments;
using RlhfActors.Abstractions.Grains;
using RlhfActors.Client.Config;
using RlhfActors.Client.Progress;
using RlhfActors.Grains.Experiments;
using RlhfActors.Silo.Hosting;

namespace RlhfActors.Client.Commands;

/// <summary><c>rlhf run &lt;experiment.yaml&gt; [--json]</c>: validate the config, start an embedded silo, run the
/// experiment to the end with a progress display.</summary>
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
        var command = new Command("run", "Run an experiment to the end on an in-process silo") { file, json };
        command.SetAction((parse, cancellationToken) =>
            ExecuteAsync(parse.GetValue(file)!, parse.GetValue(json), cli, cancellationToken));
        return command;
    }

    static async Task<int> ExecuteAsync(string path, bool json, CliContext cli, CancellationToken cancellationToken)
    {
        ExperimentConfig config;
        try
        {
            config = ExperimentYamlLoader.Load(path);
        }
        catch (ConfigLoadException e)
        {
            foreach (var error in e.Errors) cli.Stderr.WriteLine($"error: {error}");
            return ExitCodes.Usage;
        }
        if (OutputDirectory.EarlierCheckpoint(config.OutputDir) is { } earlier)
        {
            cli.Stderr.WriteLine($"error: {path}: output_dir '{config.OutputDir}' already holds {earlier} from an earlier run; " +
                                 "remove it or choose another output_dir");
            return ExitCodes.Usage;
        }

        var interactive = !json && cli.StdoutIsTerminal;
        var progress = new ProgressReporter(interactive ? cli.Stdout : cli.Stderr, interactive);
        try
        {
            await using var silo = await EmbeddedSilo.StartAsync(cli.Stderr, LogLevel.Warning, cancellationToken);
            var experiment = silo.Client.GetGrain<IExperimentGrain>(config.Name);
            try
            {
                await experiment.Start(config);
            }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException)
            {
                cli.Stderr.WriteLine($"error: {path}: {e.Message}");
                return ExitCodes.Usage;
            }

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
                cli.Stderr.WriteLine($"stopped: experiment '{config.Name}' at step {stopped.Step}/{stopped.TotalSteps}");
                return ExitCodes.Cancelled;
            }
            progress.Finish();
            if (status.State is not ExperimentState.Completed)
            {
                cli.Stderr.WriteLine($"error: experiment '{config.Name}' {status.State.ToString().ToLowerInvariant()} at step {status.Step}/{status.TotalSteps}: {status.Error}");
                return ExitCodes.Failed;
            }
            var result = await experiment.GetResult()
                         ?? throw new InvalidOperationException($"experiment '{config.Name}' completed without a result");
            if (json) cli.Stdout.WriteLine(ResultJson(config, result));
            else WriteSummary(cli.Stdout, result);
            return ExitCodes.Ok;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Interrupted while the silo was starting.
            cli.Stderr.WriteLine("cancelled");
            return ExitCodes.Cancelled;
        }
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
            if (result.Grpo is { } g) WriteGrpo(w, g);
            w.WriteString("checkpoint", result.CheckpointPath);
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>What a GRPO run reports beside accuracy: reward, KL, clipping, staleness accounting, where time went.</summary>
    static void WriteGrpo(Utf8JsonWriter w, GrpoStats g)
    {
        w.WriteStartObject("grpo");
        w.WriteNumber("steps", g.Steps);
        WriteNumberOrNull(w, "mean_reward", g.RecentMeanReward);
        WriteNumberOrNull(w, "last_mean_reward", g.LastMeanReward);
        WriteNumberOrNull(w, "kl", g.LastKl);
        WriteNumberOrNull(w, "clip_fraction", g.LastClipFraction);
        w.WriteNumber("stale_rollouts", g.StaleRollouts);
        w.WriteNumber("dropped_rollouts", g.DroppedRollouts);
        w.WriteNumber("corrected_rollouts", g.CorrectedRollouts);
        w.WriteNumber("max_trained_staleness", g.MaxTrainedStaleness);
        w.WriteNumber("filtered_groups", g.FilteredGroups);
        w.WriteNumber("step_s", Math.Round(g.StepSeconds, 3));
        w.WriteNumber("generation_s", Math.Round(g.GenerationSeconds, 3));
        w.WriteNumber("update_s", Math.Round(g.UpdateSeconds, 3));
        w.WriteEndObject();
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
        var before = r.Grpo is null ? "before" : "after the SFT warm-up";
        stdout.WriteLine($"held-out accuracy: {F(100 * r.AccuracyBefore, "F1")}% {before}, {F(100 * r.AccuracyAfter, "F1")}% after");
        if (r.Grpo is { } g)
            stdout.WriteLine($"grpo: {g.Steps} updates, mean reward {F(g.RecentMeanReward ?? double.NaN, "F3")}, " +
                             $"kl {(g.LastKl is { } kl ? F(kl, "F4") : "n/a (beta = 0)")}, stale rollouts {g.StaleRollouts}, dropped {g.DroppedRollouts}");
        stdout.WriteLine($"checkpoint: {r.CheckpointPath}");
    }
}
