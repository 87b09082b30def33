using System.Collections.Immutable;
using System.Text.Json.Serialization;

namespace RlhfActors.Abstractions.Config;

/// <summary>
/// The PPO stage (<c>algorithm: ppo</c>, after the SFT and reward-model stages): a critic (<c>CriticGrain</c>) for
/// GAE, the learned reward model (and any verifiable rewards) for the score. Names follow TRL's PPOConfig
/// (<c>gamma</c>, <c>lam</c>, <c>cliprange</c>, <c>cliprange_value</c>, <c>kl_coef</c>, <c>num_ppo_epochs</c>,
/// <c>num_mini_batches</c>, <c>whiten_rewards</c>).
/// </summary>
[GenerateSerializer, Immutable, Alias("rlhf.PpoSection")]
public sealed record PpoSection
{
    [Id(0)] public int Steps { get; init; } = 200;
    [Id(1)] public int PromptsPerStep { get; init; } = 64;
    /// <summary>Completions sampled per prompt (PPO needs 1; more gives the critic more states per prompt).</summary>
    [Id(2)] public int NumGenerations { get; init; } = 1;
    [Id(3)] public double LearningRate { get; init; } = 1e-5;
    [Id(4)] public double CriticLearningRate { get; init; } = 1e-4;
    [Id(5)] public double Gamma { get; init; } = 1.0;
    [Id(6)] public double Lam { get; init; } = 0.95;
    [Id(7)] public double Cliprange { get; init; } = 0.2;
    [Id(8), JsonPropertyName("cliprange_value")] public double ClipRangeValue { get; init; } = 0.2;
    [Id(9)] public double KlCoef { get; init; } = 0.05;
    /// <summary>true: −β·KL per token in the reward (InstructGPT, TRL); false: β·KL in the policy loss (GRPO's way).</summary>
    [Id(10)] public bool KlInReward { get; init; } = true;
    [Id(11)] public KlEstimatorType KlEstimator { get; init; } = KlEstimatorType.K1;
    [Id(12)] public bool WhitenAdvantages { get; init; } = true;
    [Id(13)] public bool WhitenRewards { get; init; }
    [Id(14)] public int NumPpoEpochs { get; init; } = 4;
    [Id(15)] public int NumMiniBatches { get; init; } = 4;
    [Id(16)] public int MaxCompletionLength { get; init; } = 32;
    [Id(17)] public double Temperature { get; init; } = 1.0;
    [Id(18)] public int Samplers { get; init; } = 1;
    [Id(19)] public double MaxGradNorm { get; init; } = 1.0;
    /// <summary>Σ weight · reward: <c>reward_model</c> (the trained one) by default, beside any verifiable reward.</summary>
    [Id(20)] public ImmutableArray<RewardTerm> Rewards { get; init; } = [];

    /// <summary>This section's rules, each naming its YAML field (the one home of the field's validation).</summary>
    public void Validate(ConfigRules rules)
    {
        rules.Check(Steps > 0, "ppo.steps", "must be > 0", Steps);
        rules.Check(PromptsPerStep > 0, "ppo.prompts_per_step", "must be > 0", PromptsPerStep);
        rules.Check(NumGenerations > 0, "ppo.num_generations", "must be > 0", NumGenerations);
        rules.Check(LearningRate > 0 && double.IsFinite(LearningRate), "ppo.learning_rate", "must be > 0", LearningRate);
        rules.Check(CriticLearningRate > 0 && double.IsFinite(CriticLearningRate), "ppo.critic_learning_rate", "must be > 0", CriticLearningRate);
        rules.Check(Gamma is > 0 and <= 1, "ppo.gamma", "must be in (0, 1]", Gamma);
        rules.Check(Lam is >= 0 and <= 1, "ppo.lam", "must be in [0, 1]", Lam);
        rules.Check(Cliprange is > 0 and < 1, "ppo.cliprange", "must be in (0, 1)", Cliprange);
        rules.Check(ClipRangeValue > 0 && double.IsFinite(ClipRangeValue), "ppo.cliprange_value", "must be > 0", ClipRangeValue);
        rules.Check(KlCoef >= 0 && double.IsFinite(KlCoef), "ppo.kl_coef", "must be >= 0", KlCoef);
        rules.Check(Enum.IsDefined(KlEstimator), "ppo.kl_estimator", ConfigNames.OneOf<KlEstimatorType>(), KlEstimator);
        rules.Check(NumPpoEpochs > 0, "ppo.num_ppo_epochs", "must be > 0", NumPpoEpochs);
        rules.Check(NumMiniBatches > 0 && NumMiniBatches <= PromptsPerStep * NumGenerations, "ppo.num_mini_batches",
            "must be between 1 and prompts_per_step × num_generations", NumMiniBatches);
        rules.Check(MaxCompletionLength > 0, "ppo.max_completion_length", "must be > 0", MaxCompletionLength);
        rules.Check(Temperature > 0 && double.IsFinite(Temperature), "ppo.temperature", "must be > 0", Temperature);
        rules.Check(Samplers is >= 1 and <= 64 && Samplers <= PromptsPerStep, "ppo.samplers", "must be between 1 and min(64, prompts_per_step)", Samplers);
        rules.Check(MaxGradNorm >= 0 && double.IsFinite(MaxGradNorm), "ppo.max_grad_norm", "must be >= 0 (0 = no clipping)", MaxGradNorm);
        for (int i = 0; i < Rewards.Length; i++)
        {
            rules.Check(Rewards[i].Name.Length > 0, $"ppo.rewards[{i}].name", "must name a reward", Rewards[i].Name);
            rules.Check(double.IsFinite(Rewards[i].Weight), $"ppo.rewards[{i}].weight", "must be a finite number", Rewards[i].Weight);
        }
    }
}
