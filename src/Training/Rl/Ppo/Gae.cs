using TorchSharp;
using static TorchSharp.torch;

namespace RlhfActors.Training.Rl.Ppo;

/// <summary>
/// Generalized Advantage Estimation (Schulman et al. 2016) over completion tokens. Each row is one episode whose
/// states are the prefixes that emit completion tokens 0 … n−1; it ends at the last real token (EOS or truncation),
/// so the value and advantage beyond it are 0. Rows are right-padded; m is the completion mask.
/// <code>
/// δ_t = r_t + γ·V_{t+1}·m_{t+1} − V_t
/// A_t = δ_t + γλ·m_{t+1}·A_{t+1}          (A_T = 0, computed backwards)
/// R_t = A_t + V_t                           (the critic's regression target, TRL's "returns")
/// </code>
/// λ trades bias (λ = 0: one-step TD, leans on the critic) against variance (λ = 1: Monte Carlo reward-to-go
/// minus V). With γ = λ = 1, A_t = Σ_{k≥t} r_k − V_t. No gradient flows: advantages and returns are targets.
/// </summary>
public static class Gae
{
    /// <param name="rewards">[B, T] per-token rewards (<see cref="PpoRewards"/>).</param>
    /// <param name="values">[B, T] V(s_t) of the rollout's critic, aligned with the completion tokens.</param>
    /// <param name="mask">float [B, T], 1 = real completion token.</param>
    /// <returns>Advantages and returns [B, T], 0 on padding.</returns>
    public static (Tensor Advantages, Tensor Returns) Compute(Tensor rewards, Tensor values, Tensor mask, double gamma, double lambda)
    {
        if (rewards.dim() != 2 || !values.shape.SequenceEqual(rewards.shape) || !mask.shape.SequenceEqual(rewards.shape))
            throw new ArgumentException("rewards, values and mask must all be [B, T]");
        if (!(gamma is >= 0 and <= 1)) throw new ArgumentException($"gamma must be in [0, 1] (got {gamma})");
        if (!(lambda is >= 0 and <= 1)) throw new ArgumentException($"lambda must be in [0, 1] (got {lambda})");
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var r = rewards * mask;
        var v = values * mask;
        long width = rewards.shape[1];
        var columns = new Tensor[width];
        var nextValue = zeros_like(r[.., 0]);       // V_{t+1}·m_{t+1}: 0 past the end of the episode
        var nextAdvantage = zeros_like(r[.., 0]);   // m_{t+1}·A_{t+1}
        for (long t = width - 1; t >= 0; t--)
        {
            var delta = r[.., t] + gamma * nextValue - v[.., t];
            var advantage = (delta + gamma * lambda * nextAdvantage) * mask[.., t];
            columns[t] = advantage;
            nextValue = v[.., t];            // v is already masked
            nextAdvantage = advantage;
        }
        var advantages = stack(columns, 1);
        var returns = (advantages + v) * mask;
        return (advantages.MoveToOuterDisposeScope(), returns.MoveToOuterDisposeScope());
    }
}
