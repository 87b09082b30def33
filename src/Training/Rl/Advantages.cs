using TorchSharp;
using static TorchSharp.torch;

namespace RlhfActors.Training.Rl;

/// <summary>Which sequence-level advantage estimator turns rewards [B] into advantages [B].</summary>
public enum AdvantageEstimator
{
    /// <summary>Group-relative (DeepSeekMath GRPO; Dr. GRPO without the std division): <see cref="Advantages.GroupRelative"/>.</summary>
    Grpo,
    /// <summary>REINFORCE leave-one-out (Ahmadian et al. 2024): <see cref="Advantages.Rloo"/>.</summary>
    Rloo,
    /// <summary>REINFORCE++ batch-normalised rewards (Hu 2025): <see cref="Advantages.ReinforcePlusPlus"/>.</summary>
    ReinforcePlusPlus,
}

/// <summary>
/// Critic-free advantage estimators for outcome rewards. Rewards are one scalar per sequence, shape [B], laid out as
/// B / G groups of G consecutive completions of the same prompt (the sampler's order). Every estimator returns a
/// [B] sequence advantage; <see cref="PerToken"/> broadcasts it over the completion tokens (outcome rewards give
/// every token of a completion the same advantage).
/// </summary>
public static class Advantages
{
    /// <summary>
    /// GRPO's group-relative advantage (DeepSeekMath, Shao et al. 2024): A_i = (r_i − mean_g) / (std_g + ε), where
    /// mean_g and std_g are over the G completions of the same prompt. The group mean is the baseline that a critic
    /// would otherwise provide.
    /// <para>std_g is the <b>unbiased</b> (Bessel-corrected, ÷ (G−1)) standard deviation: that is what TRL computes
    /// (<c>rewards.view(-1, G).std(dim=1)</c>, torch.std's default correction=1), and we want the same advantages as
    /// TRL for the same rewards; with small G the two differ a lot (G = 2: by √2).</para>
    /// <para>ε = 1e-4 is TRL's: a group whose rewards are all equal (all right or all wrong) gets advantage 0, not
    /// 0/0.</para>
    /// <para><paramref name="scaleByStd"/> = false is Dr. GRPO (Liu et al. 2025, "Understanding R1-Zero-like
    /// training"): dividing by std_g up-weights prompts that are nearly always solved or nearly always failed (small
    /// std), a question-difficulty bias; without it A_i = r_i − mean_g.</para>
    /// </summary>
    public static Tensor GroupRelative(Tensor rewards, int groupSize, bool scaleByStd = true, double eps = 1e-4)
    {
        CheckGroups(rewards, groupSize);
        using var scope = NewDisposeScope();
        var grouped = rewards.view(-1, groupSize);                                   // [B/G, G]
        var centred = grouped - grouped.mean([1L], keepdim: true);                    // r − mean_g
        var advantages = scaleByStd
            ? centred / (grouped.std(1, unbiased: true, keepdim: true) + eps)        // ÷ (std_g + ε)
            : centred;                                                                // Dr. GRPO
        return advantages.reshape(-1).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// RLOO (REINFORCE leave-one-out; Kool et al. 2019, Ahmadian et al. 2024 "Back to Basics"): the baseline of
    /// completion i is the mean reward of the <i>other</i> G−1 completions of its prompt, so it does not depend on
    /// r_i and the policy-gradient estimate stays unbiased:
    /// A_i = r_i − (Σ_g r − r_i)/(G − 1)  ( = G/(G−1) · (r_i − mean_g) ). No std scaling.
    /// </summary>
    public static Tensor Rloo(Tensor rewards, int groupSize)
    {
        CheckGroups(rewards, groupSize);
        using var scope = NewDisposeScope();
        var grouped = rewards.view(-1, groupSize);                                   // [B/G, G]
        var othersMean = (grouped.sum([1L], keepdim: true) - grouped) / (groupSize - 1);
        return (grouped - othersMean).reshape(-1).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// REINFORCE++ (Hu 2025), baseline-free form: no critic and no per-prompt group baseline; the rewards of the
    /// whole batch are normalised, A_i = (r_i − mean_B) / (std_B + ε), so the batch mean is the only baseline and the
    /// scale is fixed across steps. This is the sequence-level (outcome reward) form: the paper also folds a per-token
    /// k1 KL penalty into the return before normalising; here the KL is kept in the loss (β in
    /// <see cref="PolicyLoss"/>). std_B is unbiased (torch.std's default, as OpenRLHF's <c>rewards.std()</c>); for a
    /// batch of many sequences the ÷B vs ÷(B−1) difference is negligible. Groups are not used, so prompts need not
    /// come G at a time (the "REINFORCE++-baseline" variant, which subtracts the group mean first, is
    /// <see cref="GroupRelative"/> with scaleByStd = false followed by this).
    /// </summary>
    public static Tensor ReinforcePlusPlus(Tensor rewards, double eps = 1e-8)
    {
        if (rewards.dim() != 1 || rewards.shape[0] < 2)
            throw new ArgumentException($"rewards must be a [B] tensor with B >= 2 (got shape [{string.Join(", ", rewards.shape)}])", nameof(rewards));
        using var scope = NewDisposeScope();
        var advantages = (rewards - rewards.mean()) / (rewards.std(unbiased: true) + eps);
        return advantages.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// GDPO's multi-reward advantage (TRL multi_objective_aggregation "normalize_then_sum"). Rewards are a [B, K]
    /// table, one column per reward term, in groups of G rows. Each term is normalised within its group before the
    /// weighted sum, so a term with a large scale or spread cannot drown the others (with sum_then_normalize a 0/10
    /// format bonus swamps a 0/1 correctness signal); the sum is then normalised over the whole batch:
    /// <code>
    /// r̂_ik = (r_ik − mean_g(r_k)) / (std_g(r_k) + ε)      per group g, per term k
    /// s_i  = Σ_k w_k · r̂_ik
    /// A_i  = (s_i − mean_B(s)) / (std_B(s) + ε)              ε = 1e-4, stds unbiased (TRL's nanstd)
    /// </code>
    /// </summary>
    public static Tensor NormalizeThenSum(Tensor rewardsPerTerm, IReadOnlyList<double> weights, int groupSize, double eps = 1e-4)
    {
        if (rewardsPerTerm.dim() != 2 || rewardsPerTerm.shape[1] != weights.Count)
            throw new ArgumentException($"rewards must be a [B, K] table with K = {weights.Count} reward terms (got shape [{string.Join(", ", rewardsPerTerm.shape)}])", nameof(rewardsPerTerm));
        long terms = rewardsPerTerm.shape[1];
        CheckGroups(rewardsPerTerm.select(1, 0), groupSize);
        using var scope = NewDisposeScope();
        var grouped = rewardsPerTerm.view(-1, groupSize, terms);                                  // [B/G, G, K]
        var normalised = (grouped - grouped.mean([1L], keepdim: true))
            / (grouped.std(1, unbiased: true, keepdim: true) + eps);                                // r̂ per group, per term
        var w = tensor(weights.Select(x => (float)x).ToArray(), dtype: rewardsPerTerm.dtype);
        var summed = (normalised.reshape(-1, terms) * w).sum(1);                                  // s_i = Σ_k w_k r̂_ik
        return ((summed - summed.mean()) / (summed.std(unbiased: true) + eps)).MoveToOuterDisposeScope();
    }

    /// <summary>The estimator the options name: GRPO (with or without std scaling), RLOO or REINFORCE++.</summary>
    public static Tensor Compute(Tensor rewards, GrpoOptions options) => options.AdvantageEstimator switch
    {
        AdvantageEstimator.Grpo => GroupRelative(rewards, options.NumGenerations, options.ScaleRewards),
        AdvantageEstimator.Rloo => Rloo(rewards, options.NumGenerations),
        AdvantageEstimator.ReinforcePlusPlus => ReinforcePlusPlus(rewards),
        _ => throw new ArgumentOutOfRangeException(nameof(options), options.AdvantageEstimator, "unknown advantage estimator"),
    };

    /// <summary>
    /// DAPO dynamic sampling's filter: true for each group [B/G] whose rewards are not all equal. A group that is all
    /// right or all wrong has zero group-relative advantage for every completion, so it adds no gradient, only
    /// dilutes the batch; DAPO drops such groups and samples more prompts until the batch is full.
    /// </summary>
    public static bool[] GroupsWithSignal(Tensor rewards, int groupSize)
    {
        CheckGroups(rewards, groupSize);
        using var scope = NewDisposeScope();
        var grouped = rewards.view(-1, groupSize);
        return grouped.amax([1L]).ne(grouped.amin([1L])).data<bool>().ToArray();
    }

    /// <summary>Sequence advantages [B] → per-token advantages [B, T]: the same value on every completion token of a
    /// sequence, 0 on padding (outcome rewards carry no per-token credit assignment).</summary>
    public static Tensor PerToken(Tensor sequenceAdvantages, Tensor completionMask)
    {
        if (sequenceAdvantages.dim() != 1 || completionMask.dim() != 2 || completionMask.shape[0] != sequenceAdvantages.shape[0])
            throw new ArgumentException("expected advantages [B] and a completion mask [B, T]");
        using var scope = NewDisposeScope();
        return (sequenceAdvantages.unsqueeze(1) * completionMask).MoveToOuterDisposeScope();
    }

    static void CheckGroups(Tensor rewards, int groupSize)
    {
        // G = 1 has no group to compare with: the baseline is the reward itself (GRPO: advantage 0, std undefined;
        // RLOO: no "others"). TRL likewise requires num_generations >= 2.
        if (groupSize < 2) throw new ArgumentException($"group size must be >= 2 (got {groupSize})", nameof(groupSize));
        if (rewards.dim() != 1 || rewards.shape[0] % groupSize != 0)
            throw new ArgumentException(
                $"rewards must be a [B] tensor with B a multiple of the group size {groupSize} (got shape [{string.Join(", ", rewards.shape)}])",
                nameof(rewards));
    }
}
