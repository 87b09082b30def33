using TorchSharp;
using static TorchSharp.torch;

namespace RlhfActors.Training.Rl;

/// <summary>Corrections for rollouts sampled by a different (older) policy version than the one being trained.</summary>
public static class ImportanceCorrection
{
    /// <summary>
    /// Truncated importance weights for stale asynchronous rollouts (Espeholt et al. 2018, IMPALA's truncated IS;
    /// TRL's token_truncate correction): w_t = min(π_old(y_t)/μ(y_t), cap) = min(exp(old_logp − behaviour_logp), cap),
    /// where μ is the behaviour policy (the version the sampler held) and π_old the learner's policy at the start of
    /// the step. Truncating at the cap bounds the variance a very unlikely-under-μ token could add, at the price of a
    /// small bias. The weights are detached: they re-weight the surrogate, they are not optimised.
    /// Pass the result as <see cref="PolicyLossInputs.IsWeights"/>.
    /// </summary>
    public static Tensor TruncatedIs(Tensor behaviourLogp, Tensor oldLogp, double cap)
    {
        if (!(cap > 0)) throw new ArgumentOutOfRangeException(nameof(cap), cap, "the importance-weight cap must be > 0");
        if (!behaviourLogp.shape.SequenceEqual(oldLogp.shape)) throw new ArgumentException("behaviour and old log-probs must have the same shape");
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var weights = (oldLogp.detach() - behaviourLogp.detach()).exp().clamp_max(cap);
        return weights.MoveToOuterDisposeScope();
    }
}
