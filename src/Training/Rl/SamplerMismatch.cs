using TorchSharp;
using static TorchSharp.torch;

namespace RlhfActors.Training.Rl;

/// <summary>How the learner corrects the gap between the samplers' behaviour log-probs and its own (TRL
/// vllm_importance_sampling_mode): the ratio per token or per sequence, and what happens outside [C_min, C_max].</summary>
public enum MismatchMode
{
    /// <summary>Token ratios clamped into [C_min, C_max] (truncated IS, "TIS").</summary>
    TokenTruncate,
    /// <summary>Token ratios outside [C_min, C_max] set to 0: the token is left out ("MIS").</summary>
    TokenMask,
    /// <summary>One ratio per sequence (the product of its token ratios), clamped.</summary>
    SequenceTruncate,
    /// <summary>One ratio per sequence; a sequence outside the bounds is left out whole (TRL's default).</summary>
    SequenceMask,
}

/// <summary>The correction's weights and what it measured.</summary>
/// <param name="Weights">Detached IS weights: [B, T] in the token modes, [B, 1] in the sequence modes.</param>
public sealed record MismatchCorrection(Tensor Weights, MismatchFigures Figures);

/// <summary>What the correction measured, over the masked completion tokens.</summary>
/// <param name="MeanAbsLogpDiff">mean |log π_learner(y_t) − log μ(y_t)| (TRL sampling/sampling_logp_difference/mean).</param>
/// <param name="MaxAbsLogpDiff">The largest such difference (…/max).</param>
/// <param name="Kl">KL(μ ‖ π_learner) estimated on μ's own samples with Schulman's k3:
/// mean of ρ − 1 − log ρ, ρ = π_learner/μ (≥ 0 per token, unbiased).</param>
/// <param name="CorrectedFraction">Share of tokens (token modes) or sequences (sequence modes) whose ratio fell
/// outside [C_min, C_max]: truncated or masked.</param>
/// <param name="MeanRatio">Mean importance ratio before the bounds (1 when the two agree).</param>
public sealed record MismatchFigures(double MeanAbsLogpDiff, double MaxAbsLogpDiff, double Kl, double CorrectedFraction,
    double MeanRatio);

/// <summary>
/// Sampler–learner mismatch correction. The samplers hold inference copies (bf16 here, vLLM's kernels elsewhere) of
/// the learner's fp32 weights, so μ, the distribution the tokens were really drawn from, is not π_θ_old, the one the
/// update assumes. The learner recomputes old log-probs under its own weights and re-weights the surrogate by
/// <code>ρ_t = exp(old_logp_t − behaviour_logp_t)        (token modes)
/// ρ_i = exp(Σ_t mask_it·(old_logp_it − behaviour_logp_it))   (sequence modes: the sequence's likelihood ratio)
/// truncate: w = clamp(ρ, C_min, C_max);   mask: w = ρ if C_min ≤ ρ ≤ C_max else 0</code>
/// exactly as TRL's GRPOTrainer does (Yao et al. 2025, "Your efficient RL framework secretly brings you off-policy
/// RL training"; TRL issue #4772 shows the unbounded ratios this prevents). Null bounds are open.
/// </summary>
public static class SamplerMismatch
{
    public static MismatchCorrection Correct(Tensor behaviourLogp, Tensor oldLogp, Tensor mask, MismatchMode mode,
        double? clipMin, double? clipMax)
    {
        if (!behaviourLogp.shape.SequenceEqual(oldLogp.shape) || !mask.shape.SequenceEqual(oldLogp.shape))
            throw new ArgumentException("behaviour log-probs, old log-probs and the mask must have the same [B, T] shape");
        if (clipMin is { } lo && clipMax is { } hi && lo > hi)
            throw new ArgumentException($"the lower bound {lo} is above the upper bound {hi}");
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var diff = (oldLogp.detach() - behaviourLogp.detach()) * mask;         // log ρ_t, 0 on padding
        bool sequence = mode is MismatchMode.SequenceTruncate or MismatchMode.SequenceMask;
        var ratio = (sequence ? diff.sum(1, keepdim: true) : diff).exp();       // [B, 1] or [B, T]
        var outside = zeros_like(ratio, dtype: ScalarType.Bool);
        if (clipMin is { } min) outside = outside.logical_or(ratio.lt(min));
        if (clipMax is { } max) outside = outside.logical_or(ratio.gt(max));
        var weights = mode switch
        {
            MismatchMode.TokenTruncate or MismatchMode.SequenceTruncate => ratio.clamp(clipMin, clipMax),
            MismatchMode.TokenMask or MismatchMode.SequenceMask => ratio.masked_fill(outside, 0.0),
            _ => throw new ArgumentOutOfRangeException(nameof(mode), mode, "unknown mismatch correction mode"),
        };

        double tokens = Math.Max(1.0, mask.sum().ToDouble());
        var absDiff = diff.abs();
        var tokenRatio = diff.exp();
        // ρ − 1 − log ρ, 0 on padding; ≥ 0 exactly, so a float32 rounding just below 0 (ρ ≈ 1) is clamped.
        var k3 = (tokenRatio - 1 - diff).clamp_min(0) * mask;
        double corrected = sequence
            ? outside.to(ScalarType.Float32).mean().ToDouble()
            : (outside.to(mask.dtype) * mask).sum().ToDouble() / tokens;
        double meanRatio = sequence ? ratio.mean().ToDouble() : (tokenRatio * mask).sum().ToDouble() / tokens;
        return new MismatchCorrection(weights.MoveToOuterDisposeScope(), new MismatchFigures(
            MeanAbsLogpDiff: absDiff.sum().ToDouble() / tokens,
            MaxAbsLogpDiff: absDiff.max().ToDouble(),
            Kl: k3.sum().ToDouble() / tokens,
            CorrectedFraction: corrected,
            MeanRatio: meanRatio));
    }
}
