using TorchSharp;
using static TorchSharp.torch;

namespace RlhfActors.Training.Rl.Ppo;

/// <summary>The scalar value loss (differentiable w.r.t. the values) and the share of masked tokens where the
/// clipped branch was the larger one.</summary>
public sealed record ValueLossOutput(Tensor Loss, double ClipFraction);

/// <summary>
/// PPO's clipped value loss (as in OpenAI baselines' ppo2 and TRL's PPOTrainer): the critic may not move its
/// prediction more than ε_v from the rollout's value in one update, which keeps the regression target (returns
/// computed from V_old) meaningful, and max() takes the pessimistic branch:
/// <code>
/// V_clip_t = V_old_t + clip(V_t − V_old_t, −ε_v, ε_v)
/// loss     = ½ · mean_masked( max((V_t − R_t)², (V_clip_t − R_t)²) )
/// clipfrac = mean_masked( [(V_clip_t − R_t)² &gt; (V_t − R_t)²] )
/// </code>
/// A rank of a data-parallel group holds some rows of the minibatch: it divides by the whole minibatch's token count
/// (<c>globalTokens</c>), so the ranks' losses, and their gradients, sum to the minibatch's.

/// </summary>
public static class ValueLoss
{
    /// <param name="values">[B, T] the critic's current V_t (with grad).</param>
    /// <param name="oldValues">[B, T] V_old_t, the values GAE used.</param>
    /// <param name="returns">[B, T] the targets R_t = A_t + V_old_t.</param>
    /// <param name="mask">float [B, T], 1 = real completion token.</param>
    /// <param name="clipRange">ε_v (TRL cliprange_value).</param>
    /// <param name="globalTokens">The masked tokens of the whole minibatch when these rows are a rank's share of it;
    /// null: these rows are the minibatch.</param>
    public static ValueLossOutput Compute(Tensor values, Tensor oldValues, Tensor returns, Tensor mask, double clipRange, double? globalTokens = null)
    {
        var shape = values.shape;
        if (values.dim() != 2 || !oldValues.shape.SequenceEqual(shape) || !returns.shape.SequenceEqual(shape) || !mask.shape.SequenceEqual(shape))
            throw new ArgumentException("values, old values, returns and mask must all be [B, T]");
        if (!(clipRange >= 0) || !double.IsFinite(clipRange)) throw new ArgumentException($"cliprange_value must be >= 0 (got {clipRange})");
        using var scope = NewDisposeScope();
        var unclipped = (values - returns).square();
        var clippedValues = oldValues + (values - oldValues).clamp(-clipRange, clipRange);
        var clipped = (clippedValues - returns).square();
        var pessimistic = maximum(unclipped, clipped);
        var loss = globalTokens is { } tokens
            ? 0.5 * (pessimistic * mask).sum() / Math.Max(1.0, tokens)
            : 0.5 * Whitening.MaskedMean(pessimistic, mask);
        double fraction;
        using (no_grad()) fraction = Whitening.MaskedMean(clipped.gt(unclipped).to(mask.dtype), mask).ToDouble();
        return new ValueLossOutput(loss.MoveToOuterDisposeScope(), fraction);
    }
}
