using TorchSharp;
using static TorchSharp.torch;

namespace RlhfActors.Training.Rl;

/// <summary>
/// Off-policy sequence masking (DeepSeek-V3.2, eq. 9; TRL off_policy_mask_threshold δ): a sequence with a negative
/// advantage whose tokens the current policy has drifted away from is left out of the update:
/// <code>keep_i = A_i ≥ 0  ∨  (1/|y_i|) Σ_t mask_it·(behaviour_logp_it − logp_it) ≤ δ</code>
/// The mean log-ratio is a per-sequence estimate of KL(μ ‖ π_θ). Why only negative advantages: pushing down a
/// sequence the policy would no longer sample anyway is mostly noise, and in practice it is what destabilises
/// training; positive ones still teach. Returns a detached [B, 1] float mask (1 keep, 0 drop).
/// </summary>
public static class OffPolicySequenceMask
{
    public static Tensor Compute(Tensor advantages, Tensor logp, Tensor behaviourLogp, Tensor mask, double threshold)
    {
        if (!(threshold >= 0 && double.IsFinite(threshold)))
            throw new ArgumentOutOfRangeException(nameof(threshold), threshold, "the off-policy mask threshold must be >= 0");
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var adv = advantages.dim() == 1 ? advantages.unsqueeze(1) : advantages.narrow(1, 0, 1);
        var meanKl = ((behaviourLogp - logp.detach()) * mask).sum(1, keepdim: true) / mask.sum(1, keepdim: true).clamp_min(1);
        var keep = adv.ge(0).logical_or(meanKl.le(threshold)).to(mask.dtype);
        return keep.MoveToOuterDisposeScope();
    }
}
