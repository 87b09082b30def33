namespace RlhfActors.Abstractions.Config;

/// <summary>The distillation loss (<c>distill.loss</c>).</summary>
public enum DistillLossType
{
    /// <summary>On-policy distillation (Agarwal et al. 2024; Thinking Machines 2025): on the student's own samples,
    /// the per-token reverse KL estimate log π_s(y_t) − log π_T(y_t), negated and detached, is the advantage of a
    /// policy-gradient update. Needs only the teacher's log-prob of each sampled token.</summary>
    ReverseKl,
    /// <summary>GKD's generalised Jensen–Shannon divergence over the whole (or top-k) next-token distributions (TRL
    /// GKDTrainer.generalized_jsd_loss): beta 0 = forward KL, 1 = reverse KL.</summary>
    Jsd,
}

/// <summary>
/// The distillation stage of <c>algorithm: distill</c> (after the optional SFT warm-up of <c>sft.steps</c>): a frozen
/// teacher (<see cref="Teacher"/>, served by a TeacherGrain shared by every experiment naming the same folder) scores
/// the student's samples, and the student learns from its per-token log-probs or distributions. Names are TRL's
/// GKDConfig names where TRL has the field (beta, lmbda, temperature, max_new_tokens, learning_rate); the rest are
/// this system's (steps, prompts per step, samplers, top_k).
/// </summary>
[GenerateSerializer, Immutable, Alias("rlhf.DistillSection")]
public sealed record DistillSection
{
    /// <summary>Most top-k entries per position. A step's teacher answer is rows × positions × k × 8 bytes (an id and a
    /// log-prob each), so k is what grows it: the stage checks the whole product against
    /// <c>RlhfLimits.MaxMessageBodyBytes</c> before asking, and this bound keeps a mistyped k from getting that far.</summary>
    public const int MaxTopK = 4096;

    /// <summary>The teacher: a Hugging Face model folder or one of this system's checkpoints (e.g.
    /// <c>runs/sft-arithmetic/checkpoint-6000</c>). Must share the student's tokenizer.</summary>
    [Id(0)] public string Teacher { get; init; } = "";
    [Id(1)] public DistillLossType Loss { get; init; } = DistillLossType.ReverseKl;
    /// <summary>GKD's interpolation of the generalised JSD (TRL default 0.5). Only read by loss: jsd.</summary>
    [Id(2)] public double Beta { get; init; } = 0.5;
    /// <summary>Probability that a step trains on the student's own samples rather than the dataset's completions
    /// (TRL: 0.5). Null: 1 for reverse_kl (its policy gradient is only unbiased on the student's own samples), TRL's
    /// 0.5 for jsd.</summary>
    [Id(3)] public double? Lmbda { get; init; }
    /// <summary>Sampling temperature of the student's rollouts and the temperature of both models' log-probs (TRL 0.9).</summary>
    [Id(4)] public double Temperature { get; init; } = 0.9;
    /// <summary>Longest sampled completion (TRL 128).</summary>
    [Id(5)] public int MaxNewTokens { get; init; } = 128;
    /// <summary>Distillation updates after the warm-up.</summary>
    [Id(6)] public int Steps { get; init; } = 200;
    [Id(7)] public int PromptsPerStep { get; init; } = 16;
    /// <summary>Samples per prompt on an on-policy step (a dataset step has one row per prompt: its completion).</summary>
    [Id(8)] public int NumGenerations { get; init; } = 1;
    /// <summary>Constant learning rate (TRL's GKDConfig default: 5e-7 for LLMs; the small demo models want far more).</summary>
    [Id(9)] public double LearningRate { get; init; } = 1e-4;
    /// <summary>Entries of the teacher's distribution per position for loss: jsd; 0 = the whole vocabulary (for the
    /// character tokenizer, 99). Both distributions are renormalised over the teacher's top-k ids.</summary>
    [Id(10)] public int TopK { get; init; }
    /// <summary>Rollout sampler grains sharing each on-policy step's prompts.</summary>
    [Id(11)] public int Samplers { get; init; } = 1;
    [Id(12)] public double WeightDecay { get; init; }
    [Id(13)] public double MaxGradNorm { get; init; } = 1.0;

    /// <summary><see cref="Lmbda"/> after its default.</summary>
    public double ResolvedLmbda => Lmbda ?? (Loss == DistillLossType.ReverseKl ? 1.0 : 0.5);

    /// <summary>This section's rules, each naming its YAML field (the one home of the field's validation).</summary>
    public void Validate(ConfigRules rules)
    {
        rules.Check(Teacher.Length > 0, "distill.teacher", "must name the teacher's model folder or checkpoint", Teacher);
        rules.Check(Enum.IsDefined(Loss), "distill.loss", ConfigNames.OneOf<DistillLossType>(), Loss);
        rules.Check(Beta is >= 0 and <= 1, "distill.beta", "must be between 0 (forward KL) and 1 (reverse KL)", Beta);
        rules.Check(Lmbda is null or (>= 0 and <= 1), "distill.lmbda", "must be between 0 (dataset completions only) and 1 (on-policy only)", Lmbda);
        rules.Check(Loss != DistillLossType.ReverseKl || ResolvedLmbda == 1, "distill.lmbda",
            "must be 1 with loss reverse_kl (the reverse-KL policy gradient is only unbiased on the student's own samples; use loss jsd to mix in dataset completions)", Lmbda);
        rules.Check(Temperature > 0 && double.IsFinite(Temperature), "distill.temperature", "must be > 0", Temperature);
        rules.Check(MaxNewTokens > 0, "distill.max_new_tokens", "must be > 0", MaxNewTokens);
        rules.Check(Steps > 0, "distill.steps", "must be > 0", Steps);
        rules.Check(PromptsPerStep > 0, "distill.prompts_per_step", "must be > 0", PromptsPerStep);
        rules.Check(NumGenerations > 0, "distill.num_generations", "must be > 0", NumGenerations);
        rules.Check(LearningRate > 0 && double.IsFinite(LearningRate), "distill.learning_rate", "must be > 0", LearningRate);
        rules.Check(TopK is >= 0 and <= MaxTopK, "distill.top_k", $"must be between 0 (the whole vocabulary) and {MaxTopK}", TopK);
        rules.Check(TopK == 0 || Loss == DistillLossType.Jsd, "distill.top_k", "is only read by loss jsd (reverse_kl needs the sampled token's log-prob alone)", TopK);
        rules.Check(Samplers is >= 1 and <= 64, "distill.samplers", "must be between 1 and 64", Samplers);
        rules.Check(Samplers <= PromptsPerStep, "distill.samplers", "must be <= distill.prompts_per_step (each sampler needs a prompt)", Samplers);
        rules.Check(WeightDecay >= 0 && double.IsFinite(WeightDecay), "distill.weight_decay", "must be >= 0", WeightDecay);
        rules.Check(MaxGradNorm > 0 && double.IsFinite(MaxGradNorm), "distill.max_grad_norm", "must be > 0", MaxGradNorm);
    }
}
