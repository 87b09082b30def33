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

    /// <summary>This section's rules, each naming its YAML field (the one home of the field's validation).</summary>
    public void Validate(ConfigRules rules)
    {
        if (Init is null) rules.Check(Steps > 0, "reward_model.steps", "must be > 0", Steps);
        else rules.Check(Steps >= 0, "reward_model.steps", "must be >= 0 (0 with reward_model.init: use it as it is)", Steps);
        rules.Check(BatchSize > 0, "reward_model.batch_size", "must be > 0", BatchSize);
        rules.Check(LearningRate > 0 && double.IsFinite(LearningRate), "reward_model.learning_rate", "must be > 0", LearningRate);
        rules.Check(WarmupSteps >= 0 && (Steps == 0 || WarmupSteps <= Steps), "reward_model.warmup_steps", "must be between 0 and reward_model.steps", WarmupSteps);
        rules.Check(WeightDecay >= 0 && double.IsFinite(WeightDecay), "reward_model.weight_decay", "must be >= 0", WeightDecay);
        rules.Check(MaxGradNorm >= 0 && double.IsFinite(MaxGradNorm), "reward_model.max_grad_norm", "must be >= 0 (0 = no clipping)", MaxGradNorm);
        rules.Check(CenterRewardsCoefficient >= 0 && double.IsFinite(CenterRewardsCoefficient), "reward_model.center_rewards_coefficient", "must be >= 0", CenterRewardsCoefficient);
        Pairs.Validate(rules, "reward_model.pairs");
    }
}
