namespace RlhfActors.Abstractions.Config;

/// <summary>
/// Online DPO (<c>algorithm: online_dpo</c>, Guo et al. 2024; TRL's OnlineDPOTrainer): each step the policy samples
/// two completions for each of <see cref="PromptsPerStep"/> prompts, the judge (<see cref="Judge"/>) labels each pair,
/// and one DPO update (<c>dpo:</c> section: beta, loss_type, learning_rate, …) trains on that step's pairs against
/// the policy the stage started from (TRL's ref_model). It is RLAIF's round loop (<c>rlaif:</c>) at its smallest:
/// two candidates, one update per round, a fixed reference. Names are TRL's OnlineDPOConfig names where TRL has
/// them.
/// </summary>
[GenerateSerializer, Immutable, Alias("rlhf.OnlineDpoSection")]
public sealed record OnlineDpoSection
{
    /// <summary>Policy updates (TRL max_steps); one sample → judge → update round each.</summary>
    [Id(0)] public int Steps { get; init; } = 100;
    /// <summary>Prompts per step (TRL per_device_train_batch_size × gradient_accumulation_steps: 8), each sampled twice.</summary>
    [Id(1)] public int PromptsPerStep { get; init; } = 8;
    /// <summary>TRL max_new_tokens: 64.</summary>
    [Id(2)] public int MaxNewTokens { get; init; } = 64;
    /// <summary>TRL temperature: 0.9.</summary>
    [Id(3)] public double Temperature { get; init; } = 0.9;
    /// <summary>TRL missing_eos_penalty (None): subtracted from a pointwise judge's score (reward_model, verifier) of a
    /// completion that hit max_new_tokens without its end; null = none. Pairwise judges ignore it, as TRL's do.</summary>
    [Id(4)] public double? MissingEosPenalty { get; init; }
    [Id(5)] public int Samplers { get; init; } = 1;
    /// <summary>What labels each pair (TRL reward_funcs / judge): <c>verifier</c>, <c>reward_model</c>, <c>decoder</c>
    /// or <c>http</c>.</summary>
    [Id(6)] public JudgeSection Judge { get; init; } = new() { Type = JudgeType.Verifier };

    /// <summary>This section's rules, each naming its YAML field (the one home of the field's validation).</summary>
    public void Validate(ConfigRules rules)
    {
        rules.Check(Steps > 0, "online_dpo.steps", "must be > 0", Steps);
        rules.Check(PromptsPerStep > 0, "online_dpo.prompts_per_step", "must be > 0", PromptsPerStep);
        rules.Check(MaxNewTokens > 0, "online_dpo.max_new_tokens", "must be > 0", MaxNewTokens);
        rules.Check(Temperature > 0 && double.IsFinite(Temperature), "online_dpo.temperature", "must be > 0", Temperature);
        rules.Check(MissingEosPenalty is null || MissingEosPenalty > 0 && double.IsFinite(MissingEosPenalty.Value), "online_dpo.missing_eos_penalty",
            "must be > 0 (leave it out for none)", MissingEosPenalty);
        rules.Check(MissingEosPenalty is null || Judge.Type is JudgeType.RewardModel or JudgeType.Verifier, "online_dpo.missing_eos_penalty",
            "applies to a judge that scores each completion (judge.type reward_model or verifier), as in TRL", Judge.Type);
        rules.Check(Samplers is >= 1 and <= 64 && Samplers <= PromptsPerStep, "online_dpo.samplers", "must be between 1 and min(64, prompts_per_step)", Samplers);
        Judge.Validate(rules, "online_dpo.judge");
    }
}
