namespace RlhfActors.Abstractions.Config;

/// <summary>
/// The reward-model stage (<c>reward_model:</c>) of a PPO or RLAIF run: a scalar head on a copy of the SFT policy,
/// trained with the Bradley–Terry loss on labelled pairs, then served by <c>RewardModelGrain</c> (PPO's reward) or
/// <c>JudgeGrain</c> (RLAIF's judge). Names follow TRL's RewardConfig.
/// </summary>
[GenerateSerializer, Immutable, Alias("rlhf.RewardModelSection")]
public sealed record RewardModelSection
{
    [Id(0)] public int Steps { get; init; } = 300;
    [Id(1)] public int BatchSize { get; init; } = 32;
    [Id(2)] public double LearningRate { get; init; } = 1e-4;
    [Id(3)] public int WarmupSteps { get; init; } = 10;
    [Id(4)] public double WeightDecay { get; init; }
    [Id(5)] public double MaxGradNorm { get; init; } = 1.0;
    /// <summary>TRL's center_rewards_coefficient: a penalty on (r_c + r_r)² that keeps scores near zero.</summary>
    [Id(6)] public double CenterRewardsCoefficient { get; init; }
    [Id(7)] public PreferenceDataSection Pairs { get; init; } = new();
    /// <summary>Start from a trained reward model (a folder an earlier run wrote as <c>output_dir/reward_model</c>, or
    /// any <c>LlamaForSequenceClassification</c> folder with one label) instead of a fresh head on the SFT policy.
    /// With <c>steps: 0</c> the stage only measures it on the held-out pairs: one judge trained once, reused by many
    /// runs.</summary>
    [Id(8)] public string? Init { get; init; }
}
