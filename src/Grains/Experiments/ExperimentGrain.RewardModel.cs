using System.Collections.Immutable;
using Microsoft.Extensions.Logging;
using RlhfActors.Abstractions.Preference;

namespace RlhfActors.Grains.Experiments;

/// <summary>
/// The reward-model stage (PPO's second step; in RLAIF the judge's training): <c>RewardModelGrain</c> puts a fresh
/// scalar head on the SFT policy's published weights and trains it with the Bradley–Terry loss on labelled pairs, in
/// chunks; its held-out preference accuracy before and after is the stage's figure.
/// </summary>
public sealed partial class ExperimentGrain
{
    int _rewardModelSteps;
    PreferenceEvalResult? _rewardModelBefore;
    Abstractions.Preference.RewardModelStepMetrics? _rewardModelLast;

    async Task StartRewardModelAsync()
    {
        BeginStage("reward_model", "starting reward model");
        var version = await PublishAsync();
        _rewardModelBefore = await Reward.StartTraining(new RewardModelInit { Model = Record.SamplerInit!, Version = version });
        _rewardModelSteps = 0;
        _rewardModelLast = null;
        _phase = Phase.RewardModelTrain;
    }

    async Task RewardModelChunkAsync()
    {
        var config = Config;
        int n = Math.Min(_stepsPerCall, config.RewardModel.Steps - _rewardModelSteps);
        if (n > 0) // 0: a trained reward_model.init used as it is, only measured
        {
            SetStatus(s => s with { Phase = $"training reward model ({_rewardModelSteps}/{config.RewardModel.Steps})" });
            var metrics = await Reward.TrainRewardModel(n);
            _rewardModelSteps += n;
            _rewardModelLast = metrics[^1];
            if (_rewardModelSteps < config.RewardModel.Steps) return;
        }

        var after = await Reward.EvaluateRewardModel();
        // Saved beside the policy checkpoints, so a later run can reuse this judge or reward (reward_model.init).
        var saved = await Reward.SaveRewardModel(OutputDirectory.RewardModel(config.OutputDir));
        LogRewardModelTrained(ExperimentId, _rewardModelSteps, _rewardModelBefore!.Accuracy, after.Accuracy, after.Pairs, saved);
        var metricsByName = new Dictionary<string, double>
        {
            ["eval/preference_accuracy_before"] = _rewardModelBefore.Accuracy,
            ["eval/preference_accuracy"] = after.Accuracy,
            ["eval/margin"] = after.MeanMargin,
            ["eval/pairs"] = after.Pairs,
        };
        if (_rewardModelLast is { } last) (metricsByName["loss"], metricsByName["accuracy"]) = (last.Loss, last.Accuracy);
        EndStage(ImmutableSortedDictionary.CreateRange(StringComparer.Ordinal, metricsByName), steps: _rewardModelSteps);
        _phase = config.IsPpo ? Phase.PpoStart : Phase.RlaifStart;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Experiment {ExperimentId}: reward model trained {Steps} steps; held-out preference accuracy {Before:P1} → {After:P1} on {Pairs} pairs; saved to {Folder}")]
    private partial void LogRewardModelTrained(string experimentId, int steps, double before, double after, int pairs, string folder);
}
