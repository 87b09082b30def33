using System.Collections.Immutable;
using System.Diagnostics;
using RlhfActors.Abstractions.Config;
using RlhfActors.Abstractions.Sampling;
using RlhfActors.Training.Metrics;

namespace RlhfActors.Grains.Experiments.Stages;

/// <summary>
/// Supervised fine-tuning, the first stage of every plan (the warm-up of the online and preference algorithms):
/// the learner is built and the initial weights evaluated, then <c>sft.steps</c> updates in chunks, evaluating and
/// checkpointing on schedule. Its whole state (weights, optimizer moments, schedule position, data cursor) is the
/// learner's, so a resume needs nothing of the stage itself.
/// </summary>
public sealed class SftStage(RunContext run) : ExperimentStage(run)
{
    public override string Name => "sft";

    public override string? CannotResume(ExperimentConfig config) => null;

    public override async Task StartAsync()
    {
        var config = Run.Config;
        var record = Run.Record;
        var info = await Run.Learner.Initialize(config);
        record.Learner = info;
        record.SamplerInit = new SamplerInit { Config = config, ModelConfigJson = info.ModelConfigJson };
        var before = await Run.EvaluateAsync();
        Run.SetStatus(s => s with { AccuracyBefore = before.Accuracy });
        if (config.HasWarmUp) record.AccuracyAtStart = before.Accuracy;
        Run.BeginStage(Name, "training");
    }

    public override Task RestoreAsync(string state) => Task.CompletedTask;

    public override async Task<bool> StepAsync()
    {
        var config = Run.Config;
        var record = Run.Record;
        var total = config.Sft.Steps;
        // A run without warm-up starts its next stage on the initial weights.
        if (config.HasWarmUp && total == 0) return true;

        // A checkpoint of the stage's last step (a silo shut down before the stage ended) has nothing left to train.
        if (record.Status.Step < total)
        {
            Run.SetStatus(s => s with { Phase = "training" });
            var clock = Stopwatch.StartNew();
            var metrics = await Run.Learner.TrainSteps(Run.ChunkSize(record.Status.Step, total));
            record.TrainSeconds += clock.Elapsed.TotalSeconds;
            record.TrainTokens += metrics.Sum(m => m.Tokens);
            foreach (var m in metrics)
                Run.Metrics.Update(m.Step, new Dictionary<string, double>
                {
                    [MetricNames.Loss] = m.Loss,
                    [MetricNames.LearningRate] = m.LearningRate,
                    [MetricNames.GradNorm] = m.GradNorm,
                    [MetricNames.TokensPerSecond] = m.Seconds > 0 ? m.Tokens / m.Seconds : double.NaN,
                }, force: m.Step == total);
            var last = metrics[^1];
            Run.SetStatus(s => s with
            {
                Step = last.Step,
                LastLoss = last.Loss,
                LearningRate = last.LearningRate,
                TokensPerSecond = record.TrainSeconds > 0 ? record.TrainTokens / record.TrainSeconds : null,
            });
            if (last.Step < total)
            {
                await Run.AtBoundaryAsync(last.Step);
                return false;
            }
        }

        var after = await Run.EvaluateAsync();
        // accuracy_before of a multi-stage run is the warm-up's result: what the later stages are measured against.
        if (config.HasWarmUp) Run.SetStatus(s => s with { AccuracyBefore = after.Accuracy });
        Run.EndStage(ImmutableSortedDictionary.CreateRange(StringComparer.Ordinal, new Dictionary<string, double>
        {
            ["loss"] = record.Status.LastLoss ?? double.NaN,
            ["eval/accuracy"] = after.Accuracy,
        }));
        return true;
    }
}
