using RlhfActors.Training.Rl;
using TorchSharp;
using static TorchSharp.torch;

namespace RlhfActors.Training.Distillation;

/// <summary>A distillation loss (differentiable w.r.t. the student) and its detached figures over the masked
/// completion tokens.</summary>
/// <param name="ReverseKl">Token mean of the reverse KL of the student from the teacher: the one-sample estimate
/// log π_s(y_t) − log π_T(y_t) for <see cref="DistillationLoss.ReverseKl"/>, the exact KL(π_s ‖ π_T) over the
/// compared distribution for <see cref="DistillationLoss.GeneralizedJsd"/>.</param>
/// <param name="Tokens">Σ of the completion mask: the tokens the teacher scored.</param>
public sealed record DistillLossOutput(Tensor Loss, double ReverseKl, double Tokens);

/// <summary>
/// The two distillation losses, one function each. Tensors are right-padded completions: per-token [B, T], per-token
/// distributions [B, T, K], the mask float [B, T] with 1 on real completion tokens; padding never counts. Both
/// aggregate as a token mean over the masked tokens (TRL's GKD "batchmean" with labels; DAPO's token-level mean).
/// </summary>
public static class DistillationLoss
{
    /// <summary>
    /// On-policy distillation with a per-token reverse-KL advantage (Agarwal et al. 2024's on-policy setting with
    /// β = 1 estimated from samples; Thinking Machines' "On-Policy Distillation", 2025). On the student's own samples
    /// y ~ π_s:
    /// <code>
    /// rkl_t   = log π_s(y_t) − log π_T(y_t)                 (one-sample estimate of KL(π_s ‖ π_T) at position t)
    /// A_t     = −sg(rkl_t)                                   (detached: the teacher's verdict is a reward, not a path)
    /// ratio_t = exp(log π_s(y_t) − sg(log π_s(y_t)))         (≡ 1, so the loss value is the mean reverse KL)
    /// loss    = Σ_t mask_t · (−A_t · ratio_t) / Σ_t mask_t
    /// ∇loss   = Σ_t mask_t · rkl_t · ∇log π_s(y_t) / Σ_t mask_t
    /// </code>
    /// The gradient is REINFORCE on the per-token reward −rkl_t with discount 0 (each token's own return), which is
    /// the gradient of E_y[Σ_t rkl_t] = the sequence's reverse KL up to the terms whose expectation is 0. It is what
    /// GRPO's clipped surrogate gives at its first pass (ratio 1, never clipped) with per-token advantages A_t, written
    /// out here because clipping and a reference KL have no meaning for it.
    /// </summary>
    /// <param name="logp">[B, T] log π_s of the sampled tokens (at the sampling temperature), with gradient.</param>
    /// <param name="teacherLogp">[B, T] log π_T of the same tokens at the same temperature.</param>
    public static DistillLossOutput ReverseKl(Tensor logp, Tensor teacherLogp, Tensor mask, GlobalBatch? global = null)
    {
        SameShape(logp, teacherLogp, "teacher log-probs");
        SameShape(logp, mask, "completion mask");
        using var scope = NewDisposeScope();
        var reverseKl = (logp.detach() - teacherLogp) * mask;
        var advantages = -reverseKl;
        var ratio = (logp - logp.detach()).exp();
        var loss = PolicyLoss.Aggregate(-advantages * ratio, mask, LossAggregation.Dapo, global: global);
        double tokens = mask.sum().ToDouble();
        double meanKl = reverseKl.sum().ToDouble() / Math.Max(1.0, tokens);
        return new DistillLossOutput(loss.MoveToOuterDisposeScope(), meanKl, tokens);
    }

    /// <summary>
    /// GKD's generalised Jensen–Shannon divergence per completion position (Agarwal et al. 2024, eq. 2 as TRL's
    /// GKDTrainer.generalized_jsd_loss computes it), with S = π_s and T = π_T the next-token distributions at
    /// temperature τ (both logits ÷ τ before the softmax):
    /// <code>
    /// β = 0:  JSD_t = KL(T ‖ S) = Σ_v T(v) (log T(v) − log S(v))          (forward KL, SFT-like: mode covering)
    /// β = 1:  JSD_t = KL(S ‖ T) = Σ_v S(v) (log S(v) − log T(v))          (reverse KL: mode seeking)
    /// else:   M = (1 − β)·S + β·T,   log M = logsumexp(log S + log(1 − β), log T + log β)
    ///         JSD_t = β·KL(T ‖ M) + (1 − β)·KL(S ‖ M)
    /// loss = Σ_t mask_t · JSD_t / Σ_t mask_t
    /// </code>
    /// The endpoints are the KLs themselves, as in TRL (the mixture form tends to 0 there, not to the KLs). With a
    /// top-k teacher (K &lt; V) both distributions are renormalised over the teacher's K ids at each position, so they
    /// are distributions on the same support; K = V compares the whole vocabulary, unchanged.
    /// </summary>
    /// <param name="studentLogits">[B, T, V] the student's logits ÷ τ at each completion position, with gradient.</param>
    /// <param name="teacherIds">[B, T, K] int64 vocabulary ids of the teacher's entries.</param>
    /// <param name="teacherLogp">[B, T, K] the teacher's log-probs (log_softmax of its logits ÷ τ) at those ids.</param>
    public static DistillLossOutput GeneralizedJsd(Tensor studentLogits, Tensor teacherIds, Tensor teacherLogp, Tensor mask,
        double beta, GlobalBatch? global = null)
    {
        if (!(beta is >= 0 and <= 1)) throw new ArgumentException($"beta must be in [0, 1] (got {beta})");
        SameShape(teacherIds, teacherLogp, "teacher ids");
        if (studentLogits.dim() != 3 || teacherLogp.dim() != 3 || studentLogits.shape[0] != teacherLogp.shape[0]
            || studentLogits.shape[1] != teacherLogp.shape[1] || !mask.shape.SequenceEqual(studentLogits.shape[..2]))
            throw new ArgumentException($"student logits [B, T, V], teacher [B, T, K] and mask [B, T] disagree: "
                + $"[{string.Join(", ", studentLogits.shape)}], [{string.Join(", ", teacherLogp.shape)}], [{string.Join(", ", mask.shape)}]");
        using var scope = NewDisposeScope();
        long k = teacherLogp.shape[2], vocab = studentLogits.shape[2];
        var s = studentLogits.log_softmax(-1).gather(-1, teacherIds);
        var t = teacherLogp;
        if (k < vocab)
        {
            // Renormalise over the teacher's support: log p − log Σ_support p.
            s = s - s.logsumexp(-1, keepdim: true);
            t = t - t.logsumexp(-1, keepdim: true);
        }
        // KL(P ‖ Q) summed over the entries: torch's kl_div(log Q, log P, log_target) = P (log P − log Q).
        static Tensor Kl(Tensor logP, Tensor logQ) => (logP.exp() * (logP - logQ)).sum(-1);
        var perToken = beta switch
        {
            0 => Kl(t, s),
            1 => Kl(s, t),
            _ => JsdMixture(s, t, beta),
        };
        var loss = PolicyLoss.Aggregate(perToken, mask, LossAggregation.Dapo, global: global);
        double tokens = mask.sum().ToDouble();
        double reverseKl;
        using (no_grad()) reverseKl = (Kl(s.detach(), t) * mask).sum().ToDouble() / Math.Max(1.0, tokens);
        return new DistillLossOutput(loss.MoveToOuterDisposeScope(), reverseKl, tokens);

        static Tensor JsdMixture(Tensor s, Tensor t, double beta)
        {
            var m = stack([s + Math.Log(1 - beta), t + Math.Log(beta)]).logsumexp(0);
            return beta * Kl(t, m) + (1 - beta) * Kl(s, m);
        }
    }

    static void SameShape(Tensor a, Tensor b, string name)
    {
        if (!a.shape.SequenceEqual(b.shape))
            throw new ArgumentException($"{name} must have shape [{string.Join(", ", a.shape)}] (got [{string.Join(", ", b.shape)}])");
    }
}
