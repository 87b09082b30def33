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
}
