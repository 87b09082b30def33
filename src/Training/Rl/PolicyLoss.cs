using TorchSharp;
using static TorchSharp.torch;

namespace RlhfActors.Training.Rl;

/// <summary>How per-token losses [B, T] become one scalar. The choice sets how much each token weighs, so it is a
/// length bias decision, not a detail.</summary>
public enum LossAggregation
{
    /// <summary>DeepSeekMath GRPO: mean over each sequence's tokens, then mean over sequences. A token of a short
    /// completion weighs more than one of a long completion (biases towards short correct and long wrong answers).</summary>
    Grpo,
    /// <summary>DAPO (Yu et al. 2025): token-level mean, Σ over all masked tokens ÷ number of masked tokens in the
    /// batch. Every token weighs the same. TRL's default loss_type.</summary>
    Dapo,
    /// <summary>Dr. GRPO (Liu et al. 2025): Σ over all masked tokens ÷ (B × max_completion_length), a constant, so
    /// the normaliser does not depend on the lengths sampled in this batch.</summary>
    DrGrpo,
}

/// <summary>Where the importance ratio π_θ/π_θ_old lives (TRL importance_sampling_level).</summary>
public enum ImportanceSamplingLevel
{
    /// <summary>One ratio per token, r_t = exp(logp_t − old_logp_t): PPO's and GRPO's.</summary>
    Token,
    /// <summary>GSPO (Zheng et al. 2025): one ratio per sequence, the geometric mean of its token ratios,
    /// s_i = exp((1/|y_i|) Σ_t (logp_it − old_logp_it)), clipped as a whole. The reward is per sequence, so the
    /// off-policy correction is too; one noisy token no longer clips (or explodes) on its own.</summary>
    Sequence,
}

/// <summary>Which surrogate turns ratios and advantages into per-token losses (the part of TRL's loss_type that is
/// not the aggregation).</summary>
public enum PolicyObjective
{
    /// <summary>PPO's pessimistic clipped surrogate: <see cref="PolicyLoss.ClippedSurrogate"/>.</summary>
    Clipped,
    /// <summary>CISPO (MiniMax-M1, 2025): clip the importance weight, not the update — <see cref="PolicyLoss.Cispo"/>.</summary>
    Cispo,
}

/// <summary>
/// Inputs of <see cref="PolicyLoss.Compute"/>. Per-token tensors are [B, T] (right-padded completions), the mask is
/// float [B, T] with 1 on real completion tokens.
/// </summary>
/// <param name="Logp">log π_θ of the sampled tokens under the policy being trained; the loss is differentiable
/// w.r.t. it.</param>
/// <param name="OldLogp">log π_θ_old: the policy at the start of this step's μ iterations (the "old" policy of the
/// PPO ratio). Null = μ = 1 and on-policy: Logp detached is used, so the ratio is 1 but its gradient is not 0.</param>
/// <param name="Advantages">[B] sequence advantages (broadcast over tokens) or [B, T] per-token advantages.</param>
/// <param name="CompletionMask">float [B, T], 1 = real completion token.</param>
public sealed record PolicyLossInputs(Tensor Logp, Tensor? OldLogp, Tensor Advantages, Tensor CompletionMask)
{
    /// <summary>Reference-policy log-probs [B, T]; needed only when <see cref="Beta"/> &gt; 0.</summary>
    public Tensor? RefLogp { get; init; }
    /// <summary>Lower clip range: the ratio is clipped at 1 − ε_low.</summary>
    public double EpsilonLow { get; init; } = 0.2;
    /// <summary>Upper clip range: the ratio is clipped at 1 + ε_high (DAPO's clip-higher raises it to 0.28).</summary>
    public double EpsilonHigh { get; init; } = 0.2;
    /// <summary>KL coefficient β; 0 = no KL term and no reference model.</summary>
    public double Beta { get; init; }
    public KlEstimator KlEstimator { get; init; } = KlEstimator.K3;
    public LossAggregation Aggregation { get; init; } = LossAggregation.Dapo;
    /// <summary>The constant of <see cref="LossAggregation.DrGrpo"/> (TRL: max_completion_length), not the batch's
    /// longest completion. Only read by DrGrpo.</summary>
    public int MaxCompletionLength { get; init; }
    /// <summary>Optional detached weights, per token [B, T] or per sequence [B, 1], multiplying the surrogate term (not
    /// the KL term): <see cref="ImportanceCorrection.TruncatedIs"/> for rollouts of an older policy version, or
    /// <see cref="SamplerMismatch.Correct"/> for the samplers' numeric mismatch; the order is TRL's (IS-weight the
    /// surrogate, then add β·KL).</summary>
    public Tensor? IsWeights { get; init; }
    /// <summary>Token ratios (PPO, GRPO) or one ratio per sequence (GSPO).</summary>
    public ImportanceSamplingLevel Level { get; init; } = ImportanceSamplingLevel.Token;
    public PolicyObjective Objective { get; init; } = PolicyObjective.Clipped;
    /// <summary>CISPO's cap ε_max on the detached importance weight (TRL: epsilon_high; ScaleRL recommends 5.0).</summary>
    public double CispoCap { get; init; } = 5.0;
    /// <summary>Optional detached [B, 1] keep-mask of whole sequences (<see cref="OffPolicySequenceMask"/>), applied to
    /// the surrogate before the importance weights, as TRL applies it.</summary>
    public Tensor? SequenceMask { get; init; }
    /// <summary>The global batch when these rows are one rank's shard of it (data-parallel learners): the aggregation
    /// divides by the whole batch's sequences and tokens, so the ranks' losses sum to the whole batch's loss and their
    /// gradients to its gradient. Null: these rows are the whole batch.</summary>
    public GlobalBatch? Global { get; init; }
}

/// <summary>A global batch's normalisers: its sequences (B) and masked completion tokens (Σ mask).</summary>
public sealed record GlobalBatch(int Sequences, double Tokens);

/// <summary>The scalar loss (differentiable w.r.t. Logp) and detached metrics over the masked tokens.</summary>
/// <param name="MeanKl">Token-level mean of the KL estimate; null when β = 0 (no reference).</param>
/// <param name="ClipFractionLow">Share of masked tokens where the lower clip was taken: ratio &lt; 1 − ε_low and A &lt; 0.</param>
/// <param name="ClipFractionHigh">Share of masked tokens where the upper clip was taken: ratio &gt; 1 + ε_high and A &gt; 0.</param>
/// <param name="MeanRatio">Token-level mean of π_θ/π_θ_old.</param>
public sealed record PolicyLossOutput(Tensor Loss, double? MeanKl, double ClipFractionLow, double ClipFractionHigh, double MeanRatio)
{
    public double ClipFraction => ClipFractionLow + ClipFractionHigh;
}

/// <summary>
/// The GRPO-family policy loss: PPO's clipped surrogate (Schulman et al. 2017) with asymmetric clip ranges (DAPO
/// clip-higher) plus an optional β-weighted per-token KL to a reference (DeepSeekMath GRPO puts the KL in the loss,
/// not in the reward):
/// <code>
/// ratio_t = exp(logp_t − old_logp_t)
/// loss_t  = −min(ratio_t·A_t, clip(ratio_t, 1 − ε_low, 1 + ε_high)·A_t) + β·KL_t
/// </code>
/// then aggregated over the masked tokens as <see cref="LossAggregation"/> says. GSPO replaces the token ratio by a
/// sequence ratio (<see cref="SequenceRatio"/>), CISPO the clipped surrogate by <see cref="Cispo"/>.
/// </summary>
public static class PolicyLoss
{
    public static PolicyLossOutput Compute(PolicyLossInputs inputs)
    {
        var (logp, mask) = (inputs.Logp, inputs.CompletionMask);
        Validate(inputs);
        using var scope = NewDisposeScope();
        var oldLogp = inputs.OldLogp ?? logp.detach();
        var advantages = inputs.Advantages.dim() == 1 ? inputs.Advantages.unsqueeze(1) : inputs.Advantages;

        // [B, T] token ratios, or [B, 1] sequence ratios (GSPO) that broadcast over the tokens.
        var ratio = inputs.Level == ImportanceSamplingLevel.Token
            ? (logp - oldLogp).exp()
            : SequenceRatio(logp, oldLogp, mask);
        var perToken = inputs.Objective switch
        {
            PolicyObjective.Clipped => ClippedSurrogate(ratio, advantages, inputs.EpsilonLow, inputs.EpsilonHigh),
            PolicyObjective.Cispo => Cispo(ratio, advantages, logp, inputs.CispoCap),
            _ => throw new ArgumentOutOfRangeException(nameof(inputs), inputs.Objective, "unknown policy objective"),
        };
        if (inputs.SequenceMask is not null) perToken = perToken * inputs.SequenceMask;
        if (inputs.IsWeights is not null) perToken = perToken * inputs.IsWeights;

        Tensor? kl = null;
        if (inputs.Beta > 0)
        {
            kl = KlEstimators.PerToken(inputs.KlEstimator, logp, inputs.RefLogp!);
            perToken = perToken + inputs.Beta * kl;
        }

        var loss = Aggregate(perToken, mask, inputs.Aggregation, inputs.MaxCompletionLength, inputs.Global);

        // Metrics: token-level means over the masked tokens, detached (no graph kept).
        double TokenMean(Tensor x)
        {
            using var noGrad = no_grad();
            return ((x.detach() * mask).sum() / mask.sum().clamp_min(1)).ToDouble();
        }
        var tokenRatio = ratio.expand_as(logp);
        var adv = advantages.expand_as(logp);
        // CISPO clips no update, only the weight: its "high clip" is the share of tokens whose weight was capped
        // (TRL's cispo_clip_ratio, on positive advantages), and it has no low clip.
        var lowClipped = inputs.Objective == PolicyObjective.Cispo
            ? zeros_like(mask)
            : tokenRatio.lt(1 - inputs.EpsilonLow).logical_and(adv.lt(0)).to(mask.dtype);
        var highClipped = tokenRatio.gt(inputs.Objective == PolicyObjective.Cispo ? inputs.CispoCap : 1 + inputs.EpsilonHigh)
            .logical_and(adv.gt(0)).to(mask.dtype);
        var output = new PolicyLossOutput(loss,
            MeanKl: kl is null ? null : TokenMean(kl),
            ClipFractionLow: TokenMean(lowClipped),
            ClipFractionHigh: TokenMean(highClipped),
            MeanRatio: TokenMean(tokenRatio));
        loss.MoveToOuterDisposeScope();
        return output;
    }

    /// <summary>
    /// PPO's clipped surrogate (Schulman et al. 2017) with DAPO's asymmetric range, per token (or per sequence):
    /// <code>loss = −min(r·A, clip(r, 1 − ε_low, 1 + ε_high)·A)</code>
    /// min() takes the pessimistic branch: when the ratio has already moved past the clip in the direction the
    /// advantage pushes it, the clipped branch is taken and that token's gradient is 0.
    /// </summary>
    public static Tensor ClippedSurrogate(Tensor ratio, Tensor advantages, double epsilonLow, double epsilonHigh) =>
        -minimum(ratio * advantages, ratio.clamp(1 - epsilonLow, 1 + epsilonHigh) * advantages);

    /// <summary>
    /// CISPO (MiniMax-M1, Chen et al. 2025; ScaleRL's form, which TRL's loss_type "cispo" follows):
    /// <code>loss_t = −sg(min(r_t, ε_max)) · A · log π_θ(y_t)</code>
    /// The importance weight is capped and detached (sg = stop-gradient), and the gradient comes from log π_θ
    /// itself, so no token is ever dropped from the update: PPO's clip zeroes the gradient of exactly the rare,
    /// high-ratio tokens (the "aha" tokens of reasoning) that CISPO keeps at a bounded weight.
    /// </summary>
    public static Tensor Cispo(Tensor ratio, Tensor advantages, Tensor logp, double cap) =>
        -(ratio.detach().clamp_max(cap) * advantages * logp);

    /// <summary>
    /// GSPO's sequence ratio [B, 1] (Zheng et al. 2025): the length-normalised log-ratio over each sequence's masked
    /// tokens, exponentiated:
    /// <code>s_i = exp((1/|y_i|) Σ_t mask_it·(logp_it − old_logp_it))</code>
    /// Differentiable w.r.t. logp (every token of the sequence receives s_i·A/|y_i| of the gradient).
    /// </summary>
    public static Tensor SequenceRatio(Tensor logp, Tensor oldLogp, Tensor mask) =>
        (((logp - oldLogp) * mask).sum(1, keepdim: true) / mask.sum(1, keepdim: true).clamp_min(1)).exp();

    /// <summary>Per-token losses [B, T] → scalar, over the masked tokens only (padding never counts). With
    /// <paramref name="global"/> the rows are a shard of a larger batch and the normalisers are that batch's, so that
    /// Σ over shards = the whole batch's loss for every aggregation (per-shard normalisation would weigh a token by
    /// its shard's size: a classic silent bug of data-parallel RL).</summary>
    public static Tensor Aggregate(Tensor perToken, Tensor mask, LossAggregation aggregation, int maxCompletionLength = 0,
        GlobalBatch? global = null)
    {
        if (aggregation == LossAggregation.DrGrpo && maxCompletionLength < 1)
            throw new ArgumentException($"the dr_grpo aggregation needs max_completion_length >= 1 (got {maxCompletionLength})");
        using var scope = NewDisposeScope();
        var masked = perToken * mask;
        var loss = aggregation switch
        {
            // DeepSeekMath GRPO: (1/B) Σ_i (1/|o_i|) Σ_t loss_it. A fully masked sequence (e.g. a masked truncation)
            // contributes 0 but still counts in B, as in TRL (clamp to 1 avoids 0/0).
            // A shard: Σ over its sequences / the global B (each sequence's own token mean needs nothing global).
            LossAggregation.Grpo => global is null
                ? (masked.sum(1) / mask.sum(1).clamp_min(1)).mean()
                : (masked.sum(1) / mask.sum(1).clamp_min(1)).sum() / (double)global.Sequences,
            // DAPO token-level: Σ_it loss_it / Σ_it mask_it (a shard: the global batch's Σ mask).
            LossAggregation.Dapo => global is null
                ? masked.sum() / mask.sum().clamp_min(1)
                : masked.sum() / Math.Max(1.0, global.Tokens),
            // Dr. GRPO: Σ_it loss_it / (B · L_max), L_max a constant of the run (a shard: the global B).
            LossAggregation.DrGrpo => masked.sum() / ((double)(global?.Sequences ?? perToken.shape[0]) * maxCompletionLength),
            _ => throw new ArgumentOutOfRangeException(nameof(aggregation), aggregation, "unknown loss aggregation"),
        };
        return loss.MoveToOuterDisposeScope();
    }

    static void Validate(PolicyLossInputs i)
    {
        long[] shape = i.Logp.shape;
        string Show(long[] s) => "[" + string.Join(", ", s) + "]";
        if (shape.Length != 2) throw new ArgumentException($"logp must be [B, T] (got {Show(shape)})");
        void Same(Tensor? t, string name)
        {
            if (t is not null && !t.shape.SequenceEqual(shape))
                throw new ArgumentException($"{name} must have logp's shape {Show(shape)} (got {Show(t.shape)})");
        }
        Same(i.OldLogp, "old_logp");
        Same(i.CompletionMask, "completion mask");
        Same(i.RefLogp, "ref_logp");
        if (i.IsWeights is not null && !(i.IsWeights.dim() == 2 && i.IsWeights.shape[0] == shape[0] && i.IsWeights.shape[1] == 1))
            Same(i.IsWeights, "importance weights ([B, T] or [B, 1])");
        if (i.SequenceMask is not null && !(i.SequenceMask.dim() == 2 && i.SequenceMask.shape[0] == shape[0] && i.SequenceMask.shape[1] == 1))
            throw new ArgumentException($"the sequence mask must be [B, 1] = [{shape[0]}, 1] (got {Show(i.SequenceMask.shape)})");
        if (i.Objective == PolicyObjective.Cispo && !(i.CispoCap > 0 && double.IsFinite(i.CispoCap)))
            throw new ArgumentException($"the CISPO cap must be > 0 (got {i.CispoCap})");
        if (!(i.Advantages.dim() == 1 && i.Advantages.shape[0] == shape[0]))
            Same(i.Advantages, "advantages ([B] or [B, T])");
        if (i.Beta < 0 || !double.IsFinite(i.Beta)) throw new ArgumentException($"beta must be >= 0 (got {i.Beta})");
        if (i.Beta > 0 && i.RefLogp is null)
            throw new ArgumentException($"beta is {i.Beta} > 0, so the KL term needs reference log-probs (ref_logp is null)");
        if (!(i.EpsilonLow >= 0 && i.EpsilonLow < 1)) throw new ArgumentException($"epsilon_low must be in [0, 1) (got {i.EpsilonLow})");
        if (!(i.EpsilonHigh >= 0)) throw new ArgumentException($"epsilon_high must be >= 0 (got {i.EpsilonHigh})");
    }
}
