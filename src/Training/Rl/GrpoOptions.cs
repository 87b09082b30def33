namespace RlhfActors.Training.Rl;

/// <summary>What happens to a rollout sampled more than <see cref="GrpoOptions.MaxStaleness"/> policy versions ago.</summary>
public enum StaleRolloutMode
{
    /// <summary>Discard it (never train on it silently).</summary>
    Drop,
    /// <summary>Train on it with truncated importance weights min(π_old/μ, cap) (<see cref="ImportanceCorrection.TruncatedIs"/>).</summary>
    TruncatedIs,
}

/// <summary>How several reward terms become one advantage (TRL multi_objective_aggregation).</summary>
public enum MultiObjectiveAggregation
{
    /// <summary>Σ_k w_k·r_k first, then the advantage estimator on the sum (TRL's default).</summary>
    SumThenNormalize,
    /// <summary>GDPO (2026): each term normalised within its group first, then summed with the weights and the sum
    /// normalised over the batch (<see cref="Advantages.NormalizeThenSum"/>).</summary>
    NormalizeThenSum,
}

/// <summary>
/// GRPO-family hyperparameters, named after TRL's GRPOConfig (TRL source checked: trl/trainer/grpo_config.py,
/// huggingface/trl@006d32c9). Each property says TRL's default and, where ours differs or TRL has no such field,
/// why. Snake-case names in messages are the YAML/TRL names.
/// </summary>
public sealed record GrpoOptions
{
    /// <summary>G, completions sampled per prompt (TRL num_generations: 8). Must be ≥ 2: the group is the baseline.</summary>
    public int NumGenerations { get; init; } = 8;

    /// <summary>β, KL coefficient (TRL beta: 0.0, its current default: no reference model is loaded, which saves a
    /// forward pass per step). DeepSeekMath's GRPO used 0.04; DeepSeek-R1 0.001.</summary>
    public double Beta { get; init; }

    /// <summary>ε_low, lower clip range: ratio clipped at 1 − ε_low (TRL epsilon: 0.2).</summary>
    public double EpsilonLow { get; init; } = 0.2;

    /// <summary>ε_high, upper clip range: ratio clipped at 1 + ε_high (TRL epsilon_high: defaults to epsilon, 0.2).
    /// DAPO's clip-higher recommends 0.28, letting low-probability tokens grow faster (against entropy collapse).</summary>
    public double EpsilonHigh { get; init; } = 0.2;

    /// <summary>Loss aggregation (TRL loss_type: "dapo" is the current default per grpo_config.py's docstring —
    /// normalising by the number of active tokens in the global accumulated batch; the default has changed across TRL
    /// releases, older ones used the per-sequence "grpo" normalisation). Our Dapo normalises by the active tokens of the batch passed to
    /// the loss; a learner that splits a step into micro-batches must keep that denominator global.</summary>
    public LossAggregation Aggregation { get; init; } = LossAggregation.Dapo;

    /// <summary>KL estimator for the β term (TRL: k3, fixed, not configurable; k1/k2 are here for comparison).</summary>
    public KlEstimator KlEstimator { get; init; } = KlEstimator.K3;

    /// <summary>Divide group-centred rewards by the group std (TRL scale_rewards: true / "group"). False is Dr. GRPO.
    /// Read only by the <see cref="AdvantageEstimator.Grpo"/> estimator. TRL's "batch" scaling is not offered.</summary>
    public bool ScaleRewards { get; init; } = true;

    /// <summary>Advantage estimator (TRL: GRPO only in GRPOTrainer; RLOO has its own trainer; REINFORCE++ is
    /// OpenRLHF's). Grpo by default.</summary>
    public AdvantageEstimator AdvantageEstimator { get; init; } = AdvantageEstimator.Grpo;

    /// <summary>μ, optimisation passes over each generated batch (TRL num_iterations: 1). With 1 the run is on-policy
    /// and the ratio is 1 (clipping only acts from the second pass).</summary>
    public int NumIterations { get; init; } = 1;

    /// <summary>Sampling temperature (TRL temperature: 1.0). Log-probs for the loss are computed at the same
    /// temperature, else the ratio compares different distributions.</summary>
    public double Temperature { get; init; } = 1.0;

    /// <summary>Completion length limit (TRL max_completion_length: 256); also the Dr. GRPO normaliser.</summary>
    public int MaxCompletionLength { get; init; } = 256;
    /// <summary>Updates with a non-finite loss or gradient norm that are skipped before the run fails (see
    /// <see cref="Optim.FiniteUpdates"/>); the experiment's <c>max_nonfinite_steps</c>.</summary>
    public int MaxNonfiniteSteps { get; init; } = 3;

    /// <summary>Learning rate (TRL learning_rate: 1e-6, tuned for fine-tuning billion-parameter pretrained models).
    /// Ours is task-dependent: the built-in tasks' small decoders need far larger steps; set it per experiment.</summary>
    public double LearningRate { get; init; } = 1e-6;

    /// <summary>Remove completions that hit the limit without EOS from the loss (TRL mask_truncated_completions:
    /// false; DAPO's overlong filtering).</summary>
    public bool MaskTruncated { get; init; }

    /// <summary>DAPO soft overlong punishment buffer in tokens; 0 = off (TRL has no config field; its
    /// get_soft_overlong_punishment reward function takes the same soft_punish_cache). Must be ≤ max_completion_length.</summary>
    public int OverlongBuffer { get; init; }

    /// <summary>DAPO dynamic sampling: drop groups whose rewards are all equal (zero advantage, no gradient) and
    /// sample more (TRL: no such field; the filter is <see cref="Advantages.GroupsWithSignal"/>). Off by default: it
    /// costs extra generation.</summary>
    public bool DynamicSampling { get; init; }

    /// <summary>Oldest rollout policy version accepted, in versions behind the learner (0 = strictly on-policy,
    /// synchronous). TRL has no such field: it is our asynchronous actors' knob.</summary>
    public int MaxStaleness { get; init; }

    /// <summary>What to do with rollouts older than <see cref="MaxStaleness"/>: drop them (default) or importance-correct them.</summary>
    public StaleRolloutMode StaleMode { get; init; } = StaleRolloutMode.Drop;

    /// <summary>Cap C of the truncated importance weights (TRL vllm_importance_sampling_cap: 3.0, for sampler/learner
    /// numeric mismatch). Ours corrects whole versions of staleness, a larger shift, so a tighter 2.0 bounds the
    /// variance more; must be ≥ 1 so on-policy tokens (weight 1) are never down-weighted.</summary>
    public double IsCap { get; init; } = 2.0;

    /// <summary>Token ratios (GRPO) or one length-normalised ratio per sequence, clipped as a whole (GSPO; TRL
    /// importance_sampling_level: "token").</summary>
    public ImportanceSamplingLevel ImportanceSamplingLevel { get; init; } = ImportanceSamplingLevel.Token;

    /// <summary>The clipped surrogate or CISPO's clipped-weight REINFORCE (TRL loss_type "cispo", which also fixes the
    /// aggregation at DAPO's token mean).</summary>
    public PolicyObjective Objective { get; init; } = PolicyObjective.Clipped;

    /// <summary>CISPO's ε_max, the cap of the detached weight (TRL reads epsilon_high for it; ScaleRL recommends 5.0,
    /// which is what an unset epsilon_high means under loss_type cispo here: TRL would cap at epsilon = 0.2 and scale
    /// every on-policy gradient by 0.2).</summary>
    public double CispoCap { get; init; } = 5.0;

    /// <summary>Recompute old log-probs under the learner's weights and correct the samplers' mismatch (TRL
    /// vllm_importance_sampling_correction, default true under vLLM). Off here unless the config turns it on or the
    /// samplers compute in another dtype than the learner (see the section).</summary>
    public bool MismatchCorrection { get; init; }

    /// <summary>TRL vllm_importance_sampling_mode: "sequence_mask" by default.</summary>
    public MismatchMode MismatchMode { get; init; } = MismatchMode.SequenceMask;

    /// <summary>C_min (TRL vllm_importance_sampling_clip_min: None, open).</summary>
    public double? MismatchClipMin { get; init; }

    /// <summary>C_max (TRL vllm_importance_sampling_clip_max: 3.0).</summary>
    public double? MismatchClipMax { get; init; } = 3.0;

    /// <summary>δ of off-policy sequence masking (TRL off_policy_mask_threshold: None = off; DeepSeek-V3.2).</summary>
    public double? OffPolicyMaskThreshold { get; init; }

    /// <summary>How several reward terms combine (TRL multi_objective_aggregation: "sum_then_normalize").</summary>
    public MultiObjectiveAggregation MultiObjectiveAggregation { get; init; } = MultiObjectiveAggregation.SumThenNormalize;

    /// <summary>The reward terms' weights w_k, in the order their scores reach the learner (TRL reward_weights); read
    /// only by normalize_then_sum (sum_then_normalize receives the weighted total).</summary>
    public IReadOnlyList<double> RewardWeights { get; init; } = [1.0];

    /// <summary>Every invalid field, one message each, naming the field: "grpo.epsilon_high must be >= 0 (got -1)".</summary>
    public IReadOnlyList<string> Errors()
    {
        var errors = new List<string>();
        void Check(bool ok, string field, string rule, object value)
        {
            if (!ok) errors.Add(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"grpo.{field} {rule} (got {value})"));
        }
        static bool Finite(double x) => double.IsFinite(x);
        Check(NumGenerations >= 2, "num_generations", "must be >= 2", NumGenerations);
        Check(Beta >= 0 && Finite(Beta), "beta", "must be >= 0", Beta);
        Check(EpsilonLow is >= 0 and < 1, "epsilon_low", "must be in [0, 1)", EpsilonLow);
        Check(EpsilonHigh >= 0 && Finite(EpsilonHigh), "epsilon_high", "must be >= 0", EpsilonHigh);
        Check(Enum.IsDefined(Aggregation), "loss_type", "must be grpo, dapo or dr_grpo", Aggregation);
        Check(Enum.IsDefined(KlEstimator), "kl_estimator", "must be k1, k2 or k3", KlEstimator);
        Check(Enum.IsDefined(AdvantageEstimator), "advantage_estimator", "must be grpo, rloo or reinforce_plus_plus", AdvantageEstimator);
        Check(NumIterations >= 1, "num_iterations", "must be >= 1", NumIterations);
        Check(Temperature > 0 && Finite(Temperature), "temperature", "must be > 0", Temperature);
        Check(MaxCompletionLength >= 1, "max_completion_length", "must be >= 1", MaxCompletionLength);
        Check(LearningRate > 0 && Finite(LearningRate), "learning_rate", "must be > 0", LearningRate);
        Check(OverlongBuffer >= 0 && OverlongBuffer <= MaxCompletionLength, "overlong_buffer",
            "must be between 0 (off) and max_completion_length", OverlongBuffer);
        Check(MaxStaleness >= 0, "max_staleness", "must be >= 0", MaxStaleness);
        Check(Enum.IsDefined(StaleMode), "stale_mode", "must be drop or truncated_is", StaleMode);
        Check(IsCap >= 1 && Finite(IsCap), "is_cap", "must be >= 1", IsCap);
        Check(Enum.IsDefined(ImportanceSamplingLevel), "importance_sampling_level", "must be token or sequence", ImportanceSamplingLevel);
        Check(Enum.IsDefined(Objective), "loss_type", "must be grpo, dapo, dr_grpo or cispo", Objective);
        // ε_max < 1 would scale down every on-policy token's gradient (its ratio is 1).
        Check(Objective != PolicyObjective.Cispo || CispoCap >= 1 && Finite(CispoCap), "epsilon_high",
            "must be >= 1 with loss_type cispo: it is the cap ε_max of the importance weight (ScaleRL: 5.0)", CispoCap);
        Check(Enum.IsDefined(MismatchMode), "vllm_importance_sampling_mode",
            "must be token_truncate, token_mask, sequence_truncate or sequence_mask", MismatchMode);
        Check(MismatchClipMin is null || MismatchClipMin >= 0 && Finite(MismatchClipMin.Value), "vllm_importance_sampling_clip_min",
            "must be >= 0", MismatchClipMin!);
        Check(MismatchClipMax is null || MismatchClipMax >= 1 && Finite(MismatchClipMax.Value), "vllm_importance_sampling_clip_max",
            "must be >= 1 (a ratio of 1, no mismatch, must pass)", MismatchClipMax!);
        Check(MismatchClipMin is null || MismatchClipMin <= 1, "vllm_importance_sampling_clip_min",
            "must be <= 1 (a ratio of 1, no mismatch, must pass)", MismatchClipMin!);
        Check(OffPolicyMaskThreshold is null || OffPolicyMaskThreshold >= 0 && Finite(OffPolicyMaskThreshold.Value),
            "off_policy_mask_threshold", "must be >= 0", OffPolicyMaskThreshold!);
        Check(Enum.IsDefined(MultiObjectiveAggregation), "multi_objective_aggregation",
            "must be sum_then_normalize or normalize_then_sum", MultiObjectiveAggregation);
        return errors;
    }

    /// <summary>Throws <see cref="ArgumentException"/> listing every invalid field.</summary>
    public void Validate()
    {
        var errors = Errors();
        if (errors.Count > 0) throw new ArgumentException(string.Join("; ", errors));
    }
}
