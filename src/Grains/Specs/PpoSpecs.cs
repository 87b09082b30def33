using RlhfActors.Abstractions.Config;
using RlhfActors.Training.Rl;
using RlhfActors.Training.Rl.Ppo;

namespace RlhfActors.Grains.Specs;

/// <summary>The config's <c>ppo:</c> section → the Training layer's <see cref="PpoOptions"/>.</summary>
public static class PpoSpecs
{
    /// <summary>The reward term served by the experiment's trained reward model.</summary>
    public const string RewardModelTerm = "reward_model";

    public static PpoOptions Options(ExperimentConfig config)
    {
        var p = config.Ppo;
        return new PpoOptions
        {
            Gamma = p.Gamma,
            Lambda = p.Lam,
            ClipRange = p.Cliprange,
            ClipRangeValue = p.ClipRangeValue,
            Beta = p.KlCoef,
            KlInReward = p.KlInReward,
            KlEstimator = GrpoSpecs.KlEstimator(p.KlEstimator, "ppo.kl_estimator"),
            WhitenAdvantages = p.WhitenAdvantages,
            WhitenRewards = p.WhitenRewards,
            Epochs = p.NumPpoEpochs,
            MiniBatches = p.NumMiniBatches,
            MaxCompletionLength = p.MaxCompletionLength,
            Temperature = p.Temperature,
            LearningRate = p.LearningRate,
            CriticLearningRate = p.CriticLearningRate,
            MaxGradNorm = p.MaxGradNorm,
            MaxNonfiniteSteps = config.MaxNonfiniteSteps,
        };
    }

    /// <summary>PPO's reward terms: the trained reward model alone unless the config names others.</summary>
    public static IReadOnlyList<RewardTerm> Rewards(ExperimentConfig config) => config.Ppo.Rewards.IsDefaultOrEmpty
        ? [new RewardTerm { Name = RewardModelTerm, Weight = 1.0 }]
        : config.Ppo.Rewards;
}
