using RlhfActors.Training.Model;
using static TorchSharp.torch;

namespace RlhfActors.Tests.Model;

internal static class TinyModels
{
    public static ModelConfig Llama(bool tied = true, int kvHeads = 2, string type = "llama", bool bias = false) => new()
    {
        ModelType = type,
        VocabSize = 37,
        HiddenSize = 32,
        IntermediateSize = 48,
        NumHiddenLayers = 2,
        NumAttentionHeads = 4,
        NumKeyValueHeads = kvHeads,
        RmsNormEps = 1e-5,
        RopeTheta = 10000,
        MaxPositionEmbeddings = 128,
        TieWordEmbeddings = tied,
        AttentionBias = bias,
    };

    /// <summary>A randomly initialised model; a larger std than training init makes logits spread out so
    /// greedy choices are well separated and comparisons meaningful.</summary>
    public static DecoderModel Create(ModelConfig config, long seed = 3, double std = 0.2)
    {
        var model = new DecoderModel(config);
        model.InitializeWeights(seed, std);
        using var _ = no_grad();
        // Non-trivial norm weights and biases so a convention slip there would show.
        var gen = new Generator((ulong)seed + 100);
        foreach (var (name, p) in model.named_parameters())
        {
            if (name.EndsWith("norm.weight")) p.copy_(1.0 + 0.3 * randn(p.shape, generator: gen));
            if (name.EndsWith(".bias")) p.copy_(0.1 * randn(p.shape, generator: gen));
        }
        return model;
    }
}
