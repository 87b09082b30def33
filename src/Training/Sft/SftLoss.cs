using static TorchSharp.torch;

namespace RlhfActors.Training.Sft;

public static class SftLoss
{
    /// <summary>Mean negative log-likelihood over the masked target tokens of the whole batch
    /// (token-level mean, as TRL's SFT loss): −Σ mask·log p(target) / Σ mask.</summary>
    /// <param name="globalTokens">When the rows are one rank's shard of a data-parallel batch: Σ mask over the whole
    /// batch, so the ranks' losses sum to the whole batch's token mean (null: the rows are the whole batch).</param>
    public static Tensor TokenMeanNll(Tensor logits, Tensor targets, Tensor lossMask, long? globalTokens = null)
    {
        var logp = logits.log_softmax(-1).gather(-1, targets.unsqueeze(-1)).squeeze(-1);
        return globalTokens is { } tokens
            ? -(logp * lossMask).sum() / (double)Math.Max(1, tokens)
            : -(logp * lossMask).sum() / lossMask.sum().clamp_min(1);
    }
}
