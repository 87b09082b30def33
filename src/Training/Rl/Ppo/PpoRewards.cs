using TorchSharp;
using static TorchSharp.torch;

namespace RlhfActors.Training.Rl.Ppo;

/// <summary>Per-token rewards [B, T] (0 on padding) and the token-level mean KL(π_old ‖ π_ref) of the rollout
/// (null without reference log-probs).</summary>
public sealed record PpoRewardsOutput(Tensor Rewards, double? MeanKl);

/// <summary>
/// PPO-RLHF per-token rewards (Ziegler et al. 2019, InstructGPT; TRL's PPOTrainer, OpenRLHF): the sequence score
/// is an outcome reward, so it lands on each row's last real token (the action that ended the episode); when the
/// KL penalty is "in the reward" every token also pays for drifting from the reference:
/// <code>
/// r_t = −β·KL_t·[kl_in_reward] + score·[t = last real token]      KL_t = k(log π_old(y_t), log π_ref(y_t))
/// </code>
/// with k1 = log π_old − log π_ref by default (TRL's kl_estimator "k1"). GAE then spreads the score back over the
/// earlier tokens through the critic. When the KL is not in the reward it goes into the policy loss instead
/// (<see cref="PolicyLossInputs.Beta"/> with reference log-probs, GRPO-style) and the rewards are just the score.
/// </summary>
public static class PpoRewards
{
    /// <param name="scores">[B] sequence scores (reward model or verifier).</param>
    /// <param name="logp">[B, T] log-probs of the sampled tokens under the rollout ("old") policy.</param>
    /// <param name="refLogp">[B, T] reference log-probs, or null when there is no KL penalty.</param>
    /// <param name="mask">float [B, T], 1 = real completion token.</param>
    public static PpoRewardsOutput Compute(Tensor scores, Tensor logp, Tensor? refLogp, Tensor mask, double beta,
        KlEstimator estimator, bool klInReward)
    {
        if (mask.dim() != 2 || !logp.shape.SequenceEqual(mask.shape) || (refLogp is not null && !refLogp.shape.SequenceEqual(mask.shape)))
            throw new ArgumentException("logp, ref_logp and mask must all be [B, T]");
        if (scores.dim() != 1 || scores.shape[0] != mask.shape[0]) throw new ArgumentException("scores must be [B]");
        if (beta < 0 || !double.IsFinite(beta)) throw new ArgumentException($"beta must be >= 0 (got {beta})");
        if (klInReward && beta > 0 && refLogp is null)
            throw new ArgumentException("a KL penalty in the reward (beta > 0) needs reference log-probs");
        using var scope = NewDisposeScope();
        using var _ = no_grad();

        // The last real column of each row: argmax of m_t·(t + 1) (0 for an empty row, whose score the mask drops).
        var positions = arange(1, mask.shape[1] + 1, dtype: mask.dtype, device: mask.device);
        var last = (mask * positions).argmax(1, keepdim: true);
        var rewards = zeros_like(mask).scatter(1, last, scores.to(mask.dtype).unsqueeze(1)) * mask;

        double? meanKl = null;
        if (refLogp is not null)
        {
            var kl = KlEstimators.PerToken(estimator, logp, refLogp) * mask;
            meanKl = (kl.sum() / mask.sum().clamp_min(1)).ToDouble();
            if (klInReward) rewards = rewards - beta * kl;
        }
        return new PpoRewardsOutput(rewards.MoveToOuterDisposeScope(), meanKl);
    }
}
