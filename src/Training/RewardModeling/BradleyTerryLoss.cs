using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace RlhfActors.Training.RewardModeling;

/// <summary>One batch's Bradley–Terry loss and what it says about the scores. <see cref="Loss"/> is a scalar tensor
/// (differentiable); the rest are plain numbers for metrics.</summary>
public sealed record BradleyTerryResult(Tensor Loss, double Accuracy, double MeanChosen, double MeanRejected, double MeanMargin);

/// <summary>
/// The pairwise loss of a reward model (InstructGPT; TRL's RewardTrainer). Bradley–Terry models the probability
/// that a labeller prefers the chosen completion as P(c ≻ r) = σ(r_c − r_r), so maximum likelihood over labelled
/// pairs minimises
/// <code>
///   L = mean_b [ −log σ(r_c,b − r_r,b − m_b) ]  +  λ · mean_b [ (r_c,b + r_r,b)² ]
/// </code>
/// The optional margin m_b (Llama 2) demands a larger gap on pairs labelled as clearly better; λ is TRL's
/// <c>center_rewards_coefficient</c> (Eisenstein et al. 2023): the BT likelihood only sees differences, so without it
/// the scores drift by an arbitrary offset, which a PPO reward or a judge threshold would then inherit.
/// −log σ(x) is computed as −logsigmoid(x), which is log(1 + e^{−x}) without overflow for large |x|.
/// A rank of a data-parallel group scores some of the batch's pairs: both means divide by the whole batch's pair
/// count (<c>globalPairs</c>), so the ranks' losses, and their gradients, sum to the batch's.
/// </summary>
public static class BradleyTerryLoss
{
    /// <param name="chosenScores">[B] scores r_c of the preferred completions.</param>
    /// <param name="rejectedScores">[B] scores r_r of the other completions, row for row.</param>
    /// <param name="margin">[B] required gaps m, or null for none.</param>
    /// <param name="globalPairs">The whole batch's pairs when these are a rank's share of it; null: these are the batch.
    /// The metrics stay means over these pairs.</param>
    public static BradleyTerryResult Compute(Tensor chosenScores, Tensor rejectedScores, Tensor? margin = null, double centerRewardsCoefficient = 0,
        int? globalPairs = null)
    {
        if (chosenScores.dim() != 1 || !chosenScores.shape.SequenceEqual(rejectedScores.shape))
            throw new ArgumentException($"chosen [{string.Join(", ", chosenScores.shape)}] and rejected [{string.Join(", ", rejectedScores.shape)}] scores must both be [B]");
        if (margin is not null && !margin.shape.SequenceEqual(chosenScores.shape))
            throw new ArgumentException($"margin [{string.Join(", ", margin.shape)}] must match the scores [{chosenScores.shape[0]}]");
        if (centerRewardsCoefficient < 0) throw new ArgumentOutOfRangeException(nameof(centerRewardsCoefficient), centerRewardsCoefficient, "must be >= 0");

        using var scope = NewDisposeScope();
        var gap = chosenScores - rejectedScores;
        Tensor Mean(Tensor perPair) => globalPairs is { } pairs ? perPair.sum() / pairs : perPair.mean();
        var loss = -Mean(F.logsigmoid(margin is null ? gap : gap - margin));
        if (centerRewardsCoefficient > 0) loss = loss + centerRewardsCoefficient * Mean((chosenScores + rejectedScores).square());

        using var _ = no_grad();
        double accuracy = (gap > 0).to(ScalarType.Float64).mean().ToDouble();
        double meanChosen = chosenScores.mean().ToDouble();
        double meanRejected = rejectedScores.mean().ToDouble();
        double meanMargin = gap.mean().ToDouble();
        return new BradleyTerryResult(loss.MoveToOuterDisposeScope(), accuracy, meanChosen, meanRejected, meanMargin);
    }
}
