using RlhfActors.Training.Model;
using RlhfActors.Training.Weights;

namespace RlhfActors.Tests.IO;

/// <summary>A valid tiny Llama config and some named weights with distinct random bytes.</summary>
static class TinyModel
{
    public static ModelConfig Config => new()
    {
        ModelType = "llama", VocabSize = 16, HiddenSize = 8, IntermediateSize = 16,
        NumHiddenLayers = 1, NumAttentionHeads = 2, TorchDtype = "bfloat16",
    };

    public static IReadOnlyList<TensorBytes> Weights(int seed = 1)
    {
        var rng = new Random(seed);
        TensorBytes W(string name, string dtype, params long[] shape)
        {
            var data = new byte[shape.Aggregate(dtype == "F32" ? 4L : 2L, (a, b) => a * b)];
            rng.NextBytes(data);
            // Clear the exponent's top bit of every float so each is finite: a checkpoint of NaN weights is refused.
            var width = dtype == "F32" ? 4 : 2;
            for (var i = width - 1; i < data.Length; i += width) data[i] &= 0xBF;
            return new TensorBytes(name, dtype, shape, data);
        }
        return new[]
        {
            W("model.embed_tokens.weight", "BF16", 16, 8),
            W("model.layers.0.self_attn.q_proj.weight", "BF16", 8, 8),
            W("model.layers.0.mlp.up_proj.weight", "BF16", 16, 8),
            W("model.norm.weight", "F32", 8),
            W("lm_head.weight", "BF16", 16, 8),
        };
    }

    public static void AssertSameTensors(IReadOnlyList<TensorBytes> expected, IReadOnlyList<TensorBytes> actual)
    {
        Assert.Equal(expected.Count, actual.Count);
        var byName = actual.ToDictionary(t => t.Name);
        foreach (var e in expected)
        {
            var a = byName[e.Name];
            Assert.Equal(e.DType, a.DType);
            Assert.Equal(e.Shape, a.Shape);
            Assert.Equal(e.Data, a.Data);
        }
    }
}
