using TorchSharp;
using static TorchSharp.torch;

namespace RlhfActors.Training.Rl;

/// <summary>Per-token estimator of KL(π_θ ‖ π_ref) from samples of π_θ (Schulman 2020, "Approximating KL
/// divergence").</summary>
public enum KlEstimator
{
    /// <summary>log π_θ − log π_ref: unbiased, high variance, negative on some tokens.</summary>
    K1,
    /// <summary>½ (log r)²: biased (low for small KL), low variance, ≥ 0.</summary>
    K2,
    /// <summary>r − log r − 1: unbiased, low variance, ≥ 0 (TRL's and DeepSeekMath GRPO's choice).</summary>
    K3,
}

/// <summary>
/// Per-token KL estimators. With samples y ~ π_θ and r = π_ref(y)/π_θ(y), i.e. log r = ref_logp − logp, each k_i
/// has E[k_i] ≈ KL(π_θ ‖ π_ref). Inputs are [B, T] log-probabilities of the sampled tokens; outputs are [B, T] and
/// differentiable through logp (the reference is a constant).
/// </summary>
public static class KlEstimators
{
    /// <summary>k1 = −log r = logp − ref_logp. E[k1] = KL exactly, but individual tokens can be negative.</summary>
    public static Tensor K1(Tensor logp, Tensor refLogp)
    {
        using var scope = NewDisposeScope();
        return (logp - refLogp).MoveToOuterDisposeScope();
    }

    /// <summary>k2 = ½ (log r)². Always ≥ 0; biased, but its bias is third order in the log-ratio.</summary>
    public static Tensor K2(Tensor logp, Tensor refLogp)
    {
        using var scope = NewDisposeScope();
        var logR = refLogp - logp;
        return (0.5 * logR.square()).MoveToOuterDisposeScope();
    }

    /// <summary>k3 = (r − 1) − log r = exp(log r) − log r − 1: k1 plus the control variate (r − 1), whose expectation
    /// under π_θ is 0, so still unbiased but with lower variance; ≥ 0 since e^x ≥ 1 + x, and 0 where logp = ref_logp.
    /// DeepSeekMath's GRPO KL term and TRL's default.</summary>
    public static Tensor K3(Tensor logp, Tensor refLogp)
    {
        using var scope = NewDisposeScope();
        var logR = refLogp - logp;
        return (logR.exp() - logR - 1).MoveToOuterDisposeScope();
    }

    public static Tensor PerToken(KlEstimator estimator, Tensor logp, Tensor refLogp) => estimator switch
    {
        KlEstimator.K1 => K1(logp, refLogp),
        KlEstimator.K2 => K2(logp, refLogp),
        KlEstimator.K3 => K3(logp, refLogp),
        _ => throw new ArgumentOutOfRangeException(nameof(estimator), estimator, "unknown KL estimator"),
    };
}
