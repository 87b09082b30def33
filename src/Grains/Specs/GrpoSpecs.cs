using RlhfActors.Abstractions.Config;
using RlhfActors.Training.Rewards;
using RlhfActors.Training.Rl;

namespace RlhfActors.Grains.Specs;

/// <summary>The config's <c>grpo:</c> section → the Training layer's <see cref="GrpoOptions"/> and
/// <see cref="RewardSpec"/>. Errors name the YAML field (<c>grpo.loss_type</c>).</summary>
public static class GrpoSpecs
{
    static readonly Dictionary<string, LossAggregation> LossTypes = new(StringComparer.Ordinal)
    {
        ["grpo"] = LossAggregation.Grpo, ["dapo"] = LossAggregation.Dapo, ["dr_grpo"] = LossAggregation.DrGrpo,
    };
    static readonly Dictionary<string, KlEstimator> KlEstimators = new(StringComparer.Ordinal)
    {
        ["k1"] = KlEstimator.K1, ["k2"] = KlEstimator.K2, ["k3"] = KlEstimator.K3,
    };
    static readonly Dictionary<string, AdvantageEstimator> AdvantageEstimators = new(StringComparer.Ordinal)
    {
        ["grpo"] = AdvantageEstimator.Grpo, ["rloo"] = AdvantageEstimator.Rloo, ["reinforce_plus_plus"] = AdvantageEstimator.ReinforcePlusPlus,
    };
    static readonly Dictionary<string, StaleRolloutMode> StaleModes = new(StringComparer.Ordinal)
    {
        ["drop"] = StaleRolloutMode.Drop, ["truncated_is"] = StaleRolloutMode.TruncatedIs,
    };

    /// <summary>Every problem of the section as (field, message); empty when <see cref="Options"/> will succeed.</summary>
    public static IReadOnlyList<ConfigError> Errors(ExperimentConfig config)
    {
        var errors = new List<ConfigError>();
        var g = config.Grpo;
        void Name<T>(Dictionary<string, T> known, string value, string field)
        {
            if (!known.ContainsKey(value))
                errors.Add(new ConfigError($"grpo.{field}", $"grpo.{field} must be one of: {string.Join(", ", known.Keys)} (got '{value}')"));
        }
        Name(LossTypes, g.LossType, "loss_type");
        Name(KlEstimators, g.KlEstimator, "kl_estimator");
        Name(AdvantageEstimators, g.AdvantageEstimator, "advantage_estimator");
        Name(StaleModes, g.StaleMode, "stale_mode");
        if (errors.Count > 0) return errors;
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
            Aggregation = LossTypes[g.LossType],
            KlEstimator = KlEstimators[g.KlEstimator],
            ScaleRewards = g.ScaleRewards,
            AdvantageEstimator = AdvantageEstimators[g.AdvantageEstimator],
            NumIterations = g.NumIterations,
            Temperature = g.Temperature,
            MaxCompletionLength = g.MaxCompletionLength,
            LearningRate = g.LearningRate,
            MaskTruncated = g.MaskTruncatedCompletions,
            OverlongBuffer = g.OverlongBuffer,
            DynamicSampling = g.DynamicSampling,
            MaxStaleness = g.MaxStaleness,
            StaleMode = StaleModes[g.StaleMode],
            IsCap = g.IsCap,
            MaxNonfiniteSteps = config.MaxNonfiniteSteps,
        };
    }

    /// <summary>The weighted reward terms; exact match alone when the config names none.</summary>
    public static RewardSpec Reward(ExperimentConfig config) => config.Grpo.Rewards.IsDefaultOrEmpty
        ? new RewardSpec(new RewardComponentSpec(ExactMatchReward.RewardName, 1.0))
        : new RewardSpec(config.Grpo.Rewards.Select(t => new RewardComponentSpec(t.Name, t.Weight, t.Args)).ToArray());
}
