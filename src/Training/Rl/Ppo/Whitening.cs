using TorchSharp;
using static TorchSharp.torch;

namespace RlhfActors.Training.Rl.Ppo;

/// <summary>
/// Statistics over the masked (real) tokens only, so padding never shifts a mean or inflates a variance, and
/// TRL's <c>masked_whiten</c>:
/// <code>
/// μ = Σ m·x / Σ m        σ² = Σ m·(x − μ)² / (Σ m − 1)   (unbiased, as TRL's masked_var)
/// whiten(x) = (x − μ) / √(σ² + 1e-8)  [+ μ when shift_mean is false]
/// </code>
/// Whitened advantages keep the policy step size independent of the reward scale; rewards are whitened with
/// shift_mean = false so their sign (good vs bad sequence) survives.
/// </summary>
public static class Whitening
{
    public const double Epsilon = 1e-8;

    /// <summary>Whitened <paramref name="x"/>, 0 on padding. With fewer than two real tokens σ² is taken as 0.</summary>
    public static Tensor Whiten(Tensor x, Tensor mask, bool shiftMean = true)
    {
        if (!x.shape.SequenceEqual(mask.shape)) throw new ArgumentException("values and mask must have the same shape");
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var mean = MaskedMean(x, mask);
        var whitened = (x - mean) * (MaskedVariance(x, mask) + Epsilon).rsqrt();
        if (!shiftMean) whitened = whitened + mean;
        return (whitened * mask).MoveToOuterDisposeScope();
    }

    /// <summary>Σ m·x / Σ m, a scalar tensor (0 when nothing is masked in).</summary>
    public static Tensor MaskedMean(Tensor x, Tensor mask)
    {
        using var scope = NewDisposeScope();
        return ((x * mask).sum() / mask.sum().clamp_min(1)).MoveToOuterDisposeScope();
    }

    /// <summary>Unbiased masked variance Σ m·(x − μ)² / (Σ m − 1), a scalar tensor (0 with fewer than two tokens).</summary>
    public static Tensor MaskedVariance(Tensor x, Tensor mask)
    {
        using var scope = NewDisposeScope();
        var centred = (x - MaskedMean(x, mask)) * mask;
        return (centred.square().sum() / (mask.sum() - 1).clamp_min(1)).MoveToOuterDisposeScope();
    }
}
