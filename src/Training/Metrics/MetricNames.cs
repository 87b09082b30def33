namespace RlhfActors.Training.Metrics;

/// <summary>
/// The names of the figures in <c>metrics.jsonl</c> and the TensorBoard tags (the same strings). Close to TRL's
/// log_history names where TRL has one (loss, learning_rate, grad_norm, reward, reward_std, kl, entropy); grouped
/// with '/' as TensorBoard groups tags.
/// </summary>
public static class MetricNames
{
    public const string Loss = "loss";
    public const string LearningRate = "learning_rate";
    public const string GradNorm = "grad_norm";
    /// <summary>Training tokens per second of the step (or the chunk of steps it closed).</summary>
    public const string TokensPerSecond = "tokens_per_s";
    /// <summary>Mean sampled reward (GRPO) or score (PPO) of the step's rollouts.</summary>
    public const string Reward = "reward";
    public const string RewardStd = "reward_std";
    /// <summary>Mean per-token KL to the reference.</summary>
    public const string Kl = "kl";
    public const string ClipFraction = "clip_fraction";
    /// <summary>Mean per-token entropy of the sampled completions under the behaviour policy.</summary>
    public const string Entropy = "entropy";
    public const string CompletionLength = "completion_length";
    /// <summary>Running totals of the asynchronous pipeline's rollouts.</summary>
    public const string StaleRollouts = "rollouts/stale";
    public const string DroppedRollouts = "rollouts/dropped";
    public const string CorrectedRollouts = "rollouts/corrected";
    /// <summary>Bytes the step's update published for the samplers (the adapter alone under LoRA).</summary>
    public const string SyncBytes = "sync/bytes";
    /// <summary>Seconds the samplers took to pull the newest version (summed over samplers).</summary>
    public const string SyncSeconds = "sync/seconds";
    public const string ValueLoss = "value_loss";
    public const string ExplainedVariance = "explained_variance";
    /// <summary>DPO's implicit reward margin and preference accuracy on the step's pairs.</summary>
    public const string RewardMargin = "rewards/margin";
    public const string RewardAccuracy = "rewards/accuracy";
    /// <summary>Held-out exact match of the policy (the experiment's eval set).</summary>
    public const string EvalAccuracy = "eval/accuracy";
    /// <summary>Held-out preference accuracy (reward model, DPO).</summary>
    public const string EvalPreferenceAccuracy = "eval/preference_accuracy";
    public const string EvalMargin = "eval/margin";
    /// <summary>RLAIF: how often the judge agrees with the verifier on the round's pairs.</summary>
    public const string JudgeAgreement = "judge/agreement";
    /// <summary>Bytes of rollout traces written so far.</summary>
    public const string TraceBytes = "trace/bytes";
    /// <summary>1 on the step whose batch the trace_max_mb cap refused (the first one).</summary>
    public const string TraceCapReached = "trace/cap_reached";

    /// <summary>The sampler–learner mismatch (TRL's names where TRL logs it): mean and max |log π_learner − log μ| per
    /// token, the k3 estimate of KL(μ ‖ π_learner), the share of tokens or sequences the correction truncated or
    /// masked, and the mean importance ratio π_learner/μ before the bounds.</summary>
    public const string SamplingLogpDifferenceMean = "sampling/sampling_logp_difference/mean";
    public const string SamplingLogpDifferenceMax = "sampling/sampling_logp_difference/max";
    public const string SamplingKl = "sampling/kl";
    public const string SamplingCorrectedFraction = "sampling/corrected_fraction";
    public const string SamplingImportanceRatioMean = "sampling/importance_sampling_ratio/mean";
    /// <summary>Share of sequences off-policy sequence masking (off_policy_mask_threshold) left out of the update.</summary>
    public const string OffPolicyMaskedFraction = "off_policy/masked_fraction";
    /// <summary>Distillation: token mean of the student's reverse KL from the teacher on the step's tokens.</summary>
    public const string DistillReverseKl = "distill/reverse_kl";
    /// <summary>Distillation: completion tokens the teacher has scored so far in the stage (running total).</summary>
    public const string TeacherTokens = "distill/teacher_tokens";
    /// <summary>Distillation: 1 when the step trained on the student's own samples, 0 on dataset completions (GKD's λ).</summary>
    public const string OnPolicy = "distill/on_policy";

    /// <summary>Accuracy on a watched task (eval.watch), for the forgetting curve.</summary>
    public static string Watched(string task) => $"eval/{task}/accuracy";
}
