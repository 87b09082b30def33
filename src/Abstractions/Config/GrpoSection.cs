using System.Collections.Immutable;
using System.Text.Json.Serialization;

namespace RlhfActors.Abstractions.Config;

/// <summary>
/// GRPO stage of an experiment (<c>algorithm: grpo</c>). Names are TRL's GRPOConfig names where TRL has the field;
/// the defaults and the reason for each are documented on the Training layer's <c>GrpoOptions</c>, which this section
/// is mapped to (and which checks the algorithm's fields, naming them <c>grpo.&lt;field&gt;</c>). The rest are this
/// system's: the stage's length, the prompts per step, the samplers, sync/async.
/// </summary>
[GenerateSerializer, Immutable, Alias("rlhf.GrpoSection")]
public sealed record GrpoSection
{
    /// <summary>GRPO updates (after the optional SFT warm-up of <c>sft.steps</c>).</summary>
    [Id(0)] public int Steps { get; init; } = 200;
    /// <summary>Prompts per update; each is sampled <see cref="NumGenerations"/> times.</summary>
    [Id(1)] public int PromptsPerStep { get; init; } = 16;
    [Id(2)] public int NumGenerations { get; init; } = 8;
    [Id(3)] public double LearningRate { get; init; } = 1e-6;
    [Id(4)] public double Beta { get; init; }
    [Id(5), JsonPropertyName("epsilon")] public double EpsilonLow { get; init; } = 0.2;
    /// <summary>Null: equal to <see cref="EpsilonLow"/> (TRL's epsilon_high default).</summary>
    [Id(6)] public double? EpsilonHigh { get; init; }
    [Id(7)] public GrpoLossType LossType { get; init; } = GrpoLossType.Dapo;
    [Id(8)] public KlEstimatorType KlEstimator { get; init; } = KlEstimatorType.K3;
    [Id(9)] public bool ScaleRewards { get; init; } = true;
    [Id(10)] public AdvantageEstimatorType AdvantageEstimator { get; init; } = AdvantageEstimatorType.Grpo;
    [Id(11)] public int NumIterations { get; init; } = 1;
    [Id(12)] public double Temperature { get; init; } = 1.0;
    [Id(13)] public int MaxCompletionLength { get; init; } = 256;
    [Id(14)] public bool MaskTruncatedCompletions { get; init; }
    [Id(15)] public int OverlongBuffer { get; init; }
    [Id(16)] public bool DynamicSampling { get; init; }
    /// <summary>sync: generate, then train. async: samplers generate step t+1 while the learner trains step t.</summary>
    [Id(17)] public GrpoMode Mode { get; init; } = GrpoMode.Sync;
    [Id(18)] public int MaxStaleness { get; init; }
    [Id(19)] public StaleModeType StaleMode { get; init; } = StaleModeType.Drop;
    [Id(20)] public double IsCap { get; init; } = 2.0;
    /// <summary>Rollout sampler grains sharing each step's prompts.</summary>
    [Id(21)] public int Samplers { get; init; } = 1;
    [Id(22)] public double WeightDecay { get; init; }
    [Id(23)] public double MaxGradNorm { get; init; } = 1.0;
    /// <summary>Σ weight · reward over these; exact_match alone when empty.</summary>
    [Id(24)] public ImmutableArray<RewardTerm> Rewards { get; init; } = [];
    /// <summary>token (GRPO) or sequence (GSPO: one length-normalised ratio per completion, clipped as a whole).</summary>
    [Id(25)] public ImportanceSamplingLevelType ImportanceSamplingLevel { get; init; } = ImportanceSamplingLevelType.Token;
    /// <summary>Correct the samplers' mismatch with the learner (TRL's name; "vllm" is our rollout samplers). Null: on
    /// exactly when the samplers compute in another dtype than the learner (<c>model.sampler_dtype</c>), where the
    /// mismatch is large; with equal dtypes it costs a forward pass per step for a correction of ~1e-6.</summary>
    [Id(26)] public bool? VllmImportanceSamplingCorrection { get; init; }
    [Id(27)] public MismatchModeType VllmImportanceSamplingMode { get; init; } = MismatchModeType.SequenceMask;
    [Id(28)] public double? VllmImportanceSamplingClipMin { get; init; }
    [Id(29)] public double VllmImportanceSamplingClipMax { get; init; } = 3.0;
    /// <summary>δ of DeepSeek-V3.2's off-policy sequence masking; null = off.</summary>
    [Id(30)] public double? OffPolicyMaskThreshold { get; init; }
    [Id(31)] public MultiObjectiveAggregationType MultiObjectiveAggregation { get; init; } = MultiObjectiveAggregationType.SumThenNormalize;

    /// <summary>Whether the learner corrects the sampler–learner mismatch (the null default resolved).</summary>
    public bool CorrectsMismatch(ModelSection model) => VllmImportanceSamplingCorrection ?? model.SamplerDTypeDiffers;

    /// <summary>This section's rules, each naming its YAML field (the one home of the field's validation).</summary>
    public void Validate(ConfigRules rules)
    {
        rules.Check(Steps > 0, "grpo.steps", "must be > 0", Steps);
        rules.Check(PromptsPerStep > 0, "grpo.prompts_per_step", "must be > 0", PromptsPerStep);
        rules.Check(Samplers is >= 1 and <= 64, "grpo.samplers", "must be between 1 and 64", Samplers);
        rules.Check(Samplers <= PromptsPerStep, "grpo.samplers", "must be <= grpo.prompts_per_step (each sampler needs a prompt)", Samplers);
        rules.Check(Enum.IsDefined(Mode), "grpo.mode", ConfigNames.OneOf<GrpoMode>(), Mode);
        rules.Check(Enum.IsDefined(LossType), "grpo.loss_type", ConfigNames.OneOf<GrpoLossType>(), LossType);
        rules.Check(Enum.IsDefined(KlEstimator), "grpo.kl_estimator", ConfigNames.OneOf<KlEstimatorType>(), KlEstimator);
        rules.Check(Enum.IsDefined(AdvantageEstimator), "grpo.advantage_estimator", ConfigNames.OneOf<AdvantageEstimatorType>(), AdvantageEstimator);
        rules.Check(Enum.IsDefined(StaleMode), "grpo.stale_mode", ConfigNames.OneOf<StaleModeType>(), StaleMode);
        rules.Check(Mode != GrpoMode.Async || MaxStaleness >= 1 || StaleMode == StaleModeType.TruncatedIs, "grpo.max_staleness",
            "must be >= 1 in async mode with stale_mode drop (async rollouts are one version old; 0 would drop every batch)", MaxStaleness);
        rules.Check(WeightDecay >= 0 && double.IsFinite(WeightDecay), "grpo.weight_decay", "must be >= 0", WeightDecay);
        rules.Check(MaxGradNorm >= 0 && double.IsFinite(MaxGradNorm), "grpo.max_grad_norm", "must be >= 0 (0 = no clipping)", MaxGradNorm);
        rules.Check(Enum.IsDefined(ImportanceSamplingLevel), "grpo.importance_sampling_level", ConfigNames.OneOf<ImportanceSamplingLevelType>(), ImportanceSamplingLevel);
        rules.Check(Enum.IsDefined(VllmImportanceSamplingMode), "grpo.vllm_importance_sampling_mode", ConfigNames.OneOf<MismatchModeType>(), VllmImportanceSamplingMode);
        rules.Check(Enum.IsDefined(MultiObjectiveAggregation), "grpo.multi_objective_aggregation", ConfigNames.OneOf<MultiObjectiveAggregationType>(), MultiObjectiveAggregation);
        if (MultiObjectiveAggregation == MultiObjectiveAggregationType.NormalizeThenSum)
        {
            rules.Check(Rewards.Length >= 2, "grpo.multi_objective_aggregation",
                "normalize_then_sum needs at least two grpo.rewards terms to normalise separately", Rewards.Length);
            for (int i = 1; i < Rewards.Length; i++)
                rules.Check(Rewards.Take(i).All(t => t.Name != Rewards[i].Name), $"grpo.rewards[{i}].name",
                    "must name each reward once under normalize_then_sum (each term is normalised by its name)", Rewards[i].Name);
            rules.Check(AdvantageEstimator == AdvantageEstimatorType.Grpo, "grpo.advantage_estimator",
                "must be grpo under normalize_then_sum (it defines the advantage itself)", AdvantageEstimator);
        }
        for (int i = 0; i < Rewards.Length; i++)
        {
            var term = Rewards[i];
            rules.Check(term.Name.Length > 0, $"grpo.rewards[{i}].name", "must name a reward", term.Name);
            rules.Check(double.IsFinite(term.Weight), $"grpo.rewards[{i}].weight", "must be a finite number", term.Weight);
        }
    }
}

/// <summary>How the GRPO loss is aggregated over tokens and completions (<c>grpo.loss_type</c>, TRL's names); cispo
/// is also a different surrogate (clipped, detached importance weights), aggregated as dapo.</summary>
public enum GrpoLossType { Grpo, Dapo, DrGrpo, Cispo }

/// <summary><c>grpo.importance_sampling_level</c>: token (GRPO) or sequence (GSPO).</summary>
public enum ImportanceSamplingLevelType { Token, Sequence }

/// <summary><c>grpo.vllm_importance_sampling_mode</c>: the mismatch correction's granularity and bound handling.</summary>
public enum MismatchModeType { TokenTruncate, TokenMask, SequenceTruncate, SequenceMask }

/// <summary><c>grpo.multi_objective_aggregation</c>: weighted sum first (TRL's default), or GDPO's per-term
/// normalisation first.</summary>
public enum MultiObjectiveAggregationType { SumThenNormalize, NormalizeThenSum }

/// <summary>The per-token KL estimator (<c>grpo.kl_estimator</c>, <c>ppo.kl_estimator</c>; Schulman's k1, k2, k3).</summary>
public enum KlEstimatorType { K1, K2, K3 }

/// <summary>How rewards become advantages (<c>grpo.advantage_estimator</c>).</summary>
public enum AdvantageEstimatorType { Grpo, Rloo, ReinforcePlusPlus }

/// <summary>sync: generate, then train; async: generate step t+1 while training step t (<c>grpo.mode</c>).</summary>
public enum GrpoMode { Sync, Async }

/// <summary>What happens to rollouts older than <c>grpo.max_staleness</c> (<c>grpo.stale_mode</c>).</summary>
public enum StaleModeType { Drop, TruncatedIs }

/// <summary>One named reward in the experiment's weighted sum (<c>grpo.rewards</c>), with its args (e.g. <c>url</c>
/// for "http", <c>pattern</c> for "format").</summary>
[GenerateSerializer, Immutable, Alias("rlhf.RewardTerm")]
public sealed record RewardTerm
{
    [Id(0)] public string Name { get; init; } = "";
    [Id(1)] public double Weight { get; init; } = 1.0;
    [Id(2)] public ImmutableSortedDictionary<string, string> Args { get; init; } = ImmutableSortedDictionary<string, string>.Empty;
}
