using RlhfActors.Abstractions.Config;
using RlhfActors.Training.Rewards;
using RlhfActors.Training.Rl;

namespace RlhfActors.Grains.Specs;

/// <summary>The config's <c>grpo:</c> section → the Training layer's <see cref="GrpoOptions"/> and
/// <see cref="RewardSpec"/>. Errors name the YAML field (<c>grpo.loss_type</c>).</summary>
public static class GrpoSpecs
{
    /// <summary>Every problem of the section as (field, message); empty when <see cref="Options"/> will succeed.</summary>
    public static IReadOnlyList<ConfigError> Errors(ExperimentConfig config)
    {
        var errors = new List<ConfigError>();
        foreach (var message in Options(config).Errors())
            errors.Add(new ConfigError(message.Split(' ')[0], message));
        try
        {
            RewardRegistry.Create(Reward(config), config.Data.Task).Dispose();
        }
        catch (ArgumentException e)
        {
            errors.Add(new ConfigError("grpo.rewards", $"grpo.rewards: {e.Message}"));
        }
        return errors;
    }

    /// <summary>The algorithm's options; call <see cref="Errors"/> first for field-named messages.</summary>
    public static GrpoOptions Options(ExperimentConfig config)
    {
        var g = config.Grpo;
        return new GrpoOptions
        {
            NumGenerations = g.NumGenerations,
            Beta = g.Beta,
            EpsilonLow = g.EpsilonLow,
            EpsilonHigh = g.EpsilonHigh ?? g.EpsilonLow,
            Aggregation = g.LossType switch
            {
                GrpoLossType.Grpo => LossAggregation.Grpo,
                // CISPO normalises by the batch's active tokens, as TRL's loss_type "cispo" does.
                GrpoLossType.Dapo or GrpoLossType.Cispo => LossAggregation.Dapo,
                GrpoLossType.DrGrpo => LossAggregation.DrGrpo,
                var other => throw ConfigNames.Undefined("grpo.loss_type", other),
            },
            Objective = g.LossType == GrpoLossType.Cispo ? PolicyObjective.Cispo : PolicyObjective.Clipped,
            // An unset epsilon_high means ScaleRL's ε_max = 5 under CISPO, not epsilon's 0.2 (see CispoCap).
            CispoCap = g.EpsilonHigh ?? 5.0,
            ImportanceSamplingLevel = g.ImportanceSamplingLevel switch
            {
                ImportanceSamplingLevelType.Token => ImportanceSamplingLevel.Token,
                ImportanceSamplingLevelType.Sequence => ImportanceSamplingLevel.Sequence,
                var other => throw ConfigNames.Undefined("grpo.importance_sampling_level", other),
            },
            MismatchCorrection = g.CorrectsMismatch(config.Model),
            MismatchMode = g.VllmImportanceSamplingMode switch
            {
                MismatchModeType.TokenTruncate => MismatchMode.TokenTruncate,
                MismatchModeType.TokenMask => MismatchMode.TokenMask,
                MismatchModeType.SequenceTruncate => MismatchMode.SequenceTruncate,
                MismatchModeType.SequenceMask => MismatchMode.SequenceMask,
                var other => throw ConfigNames.Undefined("grpo.vllm_importance_sampling_mode", other),
            },
            MismatchClipMin = g.VllmImportanceSamplingClipMin,
            MismatchClipMax = g.VllmImportanceSamplingClipMax,
            OffPolicyMaskThreshold = g.OffPolicyMaskThreshold,
            MultiObjectiveAggregation = g.MultiObjectiveAggregation switch
            {
                MultiObjectiveAggregationType.SumThenNormalize => MultiObjectiveAggregation.SumThenNormalize,
                MultiObjectiveAggregationType.NormalizeThenSum => MultiObjectiveAggregation.NormalizeThenSum,
                var other => throw ConfigNames.Undefined("grpo.multi_objective_aggregation", other),
            },
            RewardWeights = Reward(config).Components.Select(c => c.Weight).ToArray(),
            KlEstimator = KlEstimator(g.KlEstimator, "grpo.kl_estimator"),
            ScaleRewards = g.ScaleRewards,
            AdvantageEstimator = g.AdvantageEstimator switch
            {
                AdvantageEstimatorType.Grpo => AdvantageEstimator.Grpo,
                AdvantageEstimatorType.Rloo => AdvantageEstimator.Rloo,
                AdvantageEstimatorType.ReinforcePlusPlus => AdvantageEstimator.ReinforcePlusPlus,
                var other => throw ConfigNames.Undefined("grpo.advantage_estimator", other),
            },
            NumIterations = g.NumIterations,
            Temperature = g.Temperature,
            MaxCompletionLength = g.MaxCompletionLength,
            LearningRate = g.LearningRate,
            MaskTruncated = g.MaskTruncatedCompletions,
            OverlongBuffer = g.OverlongBuffer,
            DynamicSampling = g.DynamicSampling,
            MaxStaleness = g.MaxStaleness,
            StaleMode = g.StaleMode switch
            {
                StaleModeType.Drop => StaleRolloutMode.Drop,
                StaleModeType.TruncatedIs => StaleRolloutMode.TruncatedIs,
                var other => throw ConfigNames.Undefined("grpo.stale_mode", other),
            },
            IsCap = g.IsCap,
            MaxNonfiniteSteps = config.MaxNonfiniteSteps,
        };
    }

    /// <summary>The config's KL estimator as the Training layer's (GRPO and PPO share it).</summary>
    public static KlEstimator KlEstimator(KlEstimatorType type, string field) => type switch
    {
        KlEstimatorType.K1 => Training.Rl.KlEstimator.K1,
        KlEstimatorType.K2 => Training.Rl.KlEstimator.K2,
        KlEstimatorType.K3 => Training.Rl.KlEstimator.K3,
        var other => throw ConfigNames.Undefined(field, other),
    };

    /// <summary>The weighted reward terms; exact match alone when the config names none.</summary>
    public static RewardSpec Reward(ExperimentConfig config) => config.Grpo.Rewards.IsDefaultOrEmpty
        ? new RewardSpec(new RewardComponentSpec(ExactMatchReward.RewardName, 1.0))
        : new RewardSpec(config.Grpo.Rewards.Select(t => new RewardComponentSpec(t.Name, t.Weight, t.Args)).ToArray());
}
