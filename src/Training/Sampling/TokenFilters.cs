using static TorchSharp.torch;

namespace RlhfActors.Training.Sampling;

/// <summary>Logit filters that set excluded tokens to −∞ before sampling.</summary>
public static class TokenFilters
{
    /// <summary>Keeps the k largest logits of each row (k ≤ 0 keeps all).</summary>
    public static Tensor TopK(Tensor logits, int k)
    {
        if (k <= 0 || k >= logits.shape[^1]) return logits;
        var kth = logits.topk(k, dim: -1).values.narrow(-1, k - 1, 1);
        return logits.masked_fill(logits.lt(kth), double.NegativeInfinity);
    }

    /// <summary>Nucleus filter: keeps the smallest set of most likely tokens whose probability sums to ≥ p
    /// (the most likely token always stays).</summary>
    public static Tensor TopP(Tensor logits, double p)
    {
        if (p >= 1.0) return logits;
        var (sorted, order) = logits.sort(-1, descending: true);
        var cumulative = sorted.softmax(-1).cumsum(-1);
        // Remove a token when the mass before it already reaches p.
        var removeSorted = (cumulative - sorted.softmax(-1)).ge(p);
        var remove = zeros_like(removeSorted).scatter(-1, order, removeSorted);
        return logits.masked_fill(remove, double.NegativeInfinity);
    }
}
