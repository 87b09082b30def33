using RlhfActors.Training.Model;

namespace RlhfActors.Bench;

/// <summary>
/// Model FLOPs of one training step, PaLM's accounting (Chowdhery et al. 2022, appendix B), which Chinchilla and
/// MFU figures use: per token, 6·N for the N weights that take part in matrix products (2 forward, 4 backward)
/// plus 12·L·H·Q·T for attention's two score/value products (L layers, H·Q the attention width, T the sequence
/// length; counted over the full T×T square although causal attention needs only half, as PaLM does).
/// N excludes the embedding lookup (a gather, not a product) but includes the output projection V·d, which a
/// tied model does with the embedding matrix. Norms, rotary, softmax, SiLU, the loss and AdamW are not counted:
/// they are the non-GEMM overhead the ratio exposes.
/// </summary>
public static class TrainingFlops
{
    public static long MatmulParameters(DecoderModel model)
    {
        var config = model.Config;
        long inLayers = model.named_parameters()
            .Where(p => p.parameter.dim() >= 2 && p.name != "model.embed_tokens.weight")
            .Sum(p => p.parameter.numel());
        // Untied: lm_head.weight is a 2-D parameter and already counted above.
        return inLayers + (config.TieWordEmbeddings ? (long)config.VocabSize * config.HiddenSize : 0);
    }

    /// <summary>FLOPs per token of a training step over sequences of length <paramref name="sequenceLength"/>.</summary>
    public static double PerToken(DecoderModel model, int sequenceLength)
    {
        var c = model.Config;
        double attention = 12.0 * c.NumHiddenLayers * c.NumAttentionHeads * c.HeadDim * sequenceLength;
        return 6.0 * MatmulParameters(model) + attention;
    }
}
