using System.Collections.Immutable;
using RlhfActors.Training.Metrics;
using RlhfActors.Abstractions.Preference;

namespace RlhfActors.Grains.Experiments.Stages;

/// <summary>
/// The reward-model stage (PPO's second step; in RLAIF the judge's training): <c>RewardModelGrain</c> puts a fresh
/// scalar head on the SFT policy's published weights and trains it with the Bradley–Terry loss on labelled pairs, in
/// chunks; its held-out preference accuracy before and after is the stage's figure. The reward model is saved at the
/// stage's end (the later stages restore it from there); a stage interrupted before is done again from its start,
/// which gives the same reward model (a seeded head on the same policy, the same pairs in the same order).
/// </summary>
public sealed class RewardModelStage(RunContext run) : ExperimentStage(run)
{
    int _steps;
    PreferenceEvalResult? _before;
    RewardModelStepMetrics? _last;

    public override string Name => "reward_model";

    public override string? CannotResume(Abstractions.Config.ExperimentConfig config) => null;

    public override Task RestoreAsync(string state) => StartAsync();

    public override async Task StartAsync()
    {
        Run.BeginStage(Name, "starting reward model");
        var version = await Run.PublishAsync();
        _before = await Run.Reward.StartTraining(new RewardModelInit { Model = Run.Record.SamplerInit!, Version = version });
        (_steps, _last) = (0, null);
    }

    public override async Task<bool> StepAsync()
    {
        var config = Run.Config;
        int n = Math.Min(Run.StepsPerCall, config.RewardModel.Steps - _steps);
        if (n > 0) // 0: a trained reward_model.init used as it is, only measured
        {
            Run.SetStatus(s => s with { Phase = $"training reward model ({_steps}/{config.RewardModel.Steps})" });
            var metrics = await Run.Reward.TrainRewardModel(n);
            _steps += n;
            _last = metrics[^1];
            // The reward model's own steps (not policy steps), under its stage's name.
            foreach (var m in metrics)
                Run.Metrics.Update(m.Step, new Dictionary<string, double>
                {
                    [MetricNames.Loss] = m.Loss,
                    [MetricNames.LearningRate] = m.LearningRate,
                    [MetricNames.RewardAccuracy] = m.Accuracy,
                    [MetricNames.RewardMargin] = m.MeanMargin,
                }, force: m.Step == config.RewardModel.Steps);
            if (_steps < config.RewardModel.Steps) return false;
        }

        var after = await Run.Reward.EvaluateRewardModel();
        // Saved beside the policy checkpoints, so a later run can reuse this judge or reward (reward_model.init).
        Run.Metrics.At(_steps, new Dictionary<string, double>
        {
            [MetricNames.EvalPreferenceAccuracy] = after.Accuracy,
            [MetricNames.EvalMargin] = after.MeanMargin,
        });
        var saved = await Run.Reward.SaveRewardModel(OutputDirectory.RewardModel(config.OutputDir));
        Run.Logger.RewardModelTrained(Run.ExperimentId, _steps, _before!.Accuracy, after.Accuracy, after.Pairs, saved);
        var metricsByName = new Dictionary<string, double>
        {
            ["eval/preference_accuracy_before"] = _before.Accuracy,
            ["eval/preference_accuracy"] = after.Accuracy,
            ["eval/margin"] = after.MeanMargin,
            ["eval/pairs"] = after.Pairs,
        };
        if (_last is { } last) (metricsByName["loss"], metricsByName["accuracy"]) = (last.Loss, last.Accuracy);
        Run.EndStage(ImmutableSortedDictionary.CreateRange(StringComparer.Ordinal, metricsByName), steps: _steps);
        return true;
    }
}
