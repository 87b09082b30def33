using System.Globalization;
using static TorchSharp.torch;

namespace RlhfActors.Training.Optim;

/// <summary>Thrown when more updates than <c>max_nonfinite_steps</c> had a non-finite loss or gradient norm: the run
/// has diverged and stops with its last finite weights.</summary>
public sealed class NonFiniteTrainingException(string message) : InvalidOperationException(message);

/// <summary>
/// Keeps NaN and infinity out of the weights. An update whose loss or gradient norm is not finite is skipped (the
/// weights and AdamW moments stay as they were) and counted; past <c>max_nonfinite_steps</c> skipped updates the
/// stage fails with <see cref="NonFiniteTrainingException"/> naming the step and stage. One bad batch (an overflow in
/// bf16) costs one update; a diverged run (learning_rate: 1e9) fails within a few steps instead of writing NaN weights
/// and reporting success.
/// </summary>
public sealed class FiniteUpdates(int maxNonfiniteSteps, string stage)
{
    /// <summary>Updates skipped so far.</summary>
    public int Skipped { get; private set; }

    /// <summary>True when the update may be applied; false (counted) when it must be skipped.</summary>
    public bool Admit(double loss, double gradNorm, long step)
    {
        if (double.IsFinite(loss) && double.IsFinite(gradNorm)) return true;
        Skipped++;
        if (Skipped > maxNonfiniteSteps)
            throw new NonFiniteTrainingException(string.Create(CultureInfo.InvariantCulture,
                $"{stage} step {step}: the loss ({loss}) or the gradient norm ({gradNorm}) is not finite, the {Skipped}th such update (max_nonfinite_steps: {maxNonfiniteSteps}); the run has diverged and stops with its last finite weights (lower the learning rate, or raise max_nonfinite_steps to ride out rare overflows)"));
        return false;
    }

    /// <summary>The total gradient norm, clipping to <paramref name="maxGradNorm"/> when it is > 0 (0 = measure only: an
    /// infinite max norm leaves the gradients alone). Always measured, because a non-finite norm must be seen.</summary>
    public static double ClipGradients(IEnumerable<TorchSharp.Modules.Parameter> parameters, double maxGradNorm) =>
        nn.utils.clip_grad_norm_(parameters, maxGradNorm > 0 ? maxGradNorm : double.PositiveInfinity);
}
