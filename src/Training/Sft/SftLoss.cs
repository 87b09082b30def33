using static TorchSharp.torch;

namespace RlhfActors.Training.Sft;

public static class SftLoss
{
    /// <summary>Mean negative log-likelihood over the masked target tokens of the whole batch
    /// (token-level mean, as TRL's SFT loss): −Σ mask·log p(target) / Σ mask.</summary>
    public static Tensor TokenMeanNll(Tensor logits, Tensor targets, Tensor lossMask)
    {
        var logp = logits.log_softmax(-1).gather(-1, targets.unsqueeze(-1)).squeeze(-1);
        return -(logp * lossMask).sum() / lossMask.sum().clamp_min(1);
    }
}
