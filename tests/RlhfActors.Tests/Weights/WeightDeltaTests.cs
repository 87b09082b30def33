using RlhfActors.Tests.IO;
using RlhfActors.Training.Weights;

namespace RlhfActors.Tests.Weights;

/// <summary>Delta sync's encoding: a new version as only its changed elements, rebuilt bit-exactly.</summary>
public sealed class WeightDeltaTests
{
    static IReadOnlyList<TensorBytes> Changed(IReadOnlyList<TensorBytes> from, string name, params int[] elements)
    {
        var rng = new Random(elements.Length);
        return from.Select(t =>
        {
            if (t.Name != name) return t;
            var size = t.DType == "F32" ? 4 : 2;
            var data = (byte[])t.Data.Clone();
            foreach (var e in elements) data[e * size] ^= (byte)(1 + rng.Next(255)); // flips low bits: a different value
            return t with { Data = data };
        }).ToArray();
    }

    static void AssertBitExact(IReadOnlyList<TensorBytes> expected, IReadOnlyList<TensorBytes> actual)
    {
        Assert.Equal(expected.Select(t => t.Name), actual.Select(t => t.Name));
        for (var i = 0; i < expected.Count; i++) Assert.Equal(expected[i].Data, actual[i].Data);
    }

    [Fact]
    public void A_few_changed_elements_travel_alone_and_rebuild_the_version_bit_exactly()
    {
        var from = TinyModel.Weights(1);
        var to = Changed(from, "model.layers.0.mlp.up_proj.weight", 0, 7, 127);

        var delta = WeightDelta.Encode(from, to);

        var up = delta.Single(d => d.Name == "model.layers.0.mlp.up_proj.weight");
        Assert.Equal(TensorChange.Sparse, up.Change);
        Assert.Equal([0, 7, 127], up.Indices);
        Assert.All(delta.Where(d => d != up), d => Assert.Equal(TensorChange.Unchanged, d.Change));
        var (deltaBytes, fullBytes) = WeightDelta.Size(delta, to);
        Assert.Equal(3 * (4 + 2), deltaBytes);
        Assert.Equal(16 * 8 * 2 + 8 * 8 * 2 + 16 * 8 * 2 + 8 * 4 + 16 * 8 * 2, fullBytes);
        AssertBitExact(to, WeightDelta.Apply(from, delta));
    }

    [Fact]
    public void A_tensor_that_changed_almost_everywhere_is_sent_whole_so_a_delta_never_exceeds_a_full_copy()
    {
        var from = TinyModel.Weights(1);
        var to = Changed(from, "model.norm.weight", 0, 1, 2, 3, 4, 5, 6); // 7 of 8 F32 elements: 56 bytes sparse > 32 full

        var delta = WeightDelta.Encode(from, to);

        var norm = delta.Single(d => d.Name == "model.norm.weight");
        Assert.Equal(TensorChange.Full, norm.Change);
        Assert.Equal(32, norm.EncodedBytes);
        AssertBitExact(to, WeightDelta.Apply(from, delta));
        var (deltaBytes, fullBytes) = WeightDelta.Size(WeightDelta.Encode(from, TinyModel.Weights(2)), TinyModel.Weights(2));
        Assert.Equal(fullBytes, deltaBytes);
    }

    [Fact]
    public void A_delta_that_does_not_fit_the_held_version_is_refused()
    {
        var from = TinyModel.Weights(1);
        var delta = WeightDelta.Encode(from, Changed(from, "lm_head.weight", 3));
        var reshaped = from.Select(t => t.Name == "lm_head.weight" ? t with { Shape = [8, 16] } : t).ToArray();

        Assert.Contains("does not match the held version", Assert.Throws<ArgumentException>(() => WeightDelta.Apply(reshaped, delta)).Message);
        Assert.Contains("is not in the held version", Assert.Throws<ArgumentException>(() =>
            WeightDelta.Encode(from.Take(4).Append(from[0] with { Name = "extra" }).ToArray(), from)).Message);
    }
}
