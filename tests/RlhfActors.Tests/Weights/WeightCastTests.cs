using System.Runtime.InteropServices;
using RlhfActors.Training.IO;
using RlhfActors.Training.Weights;
using static TorchSharp.torch;

namespace RlhfActors.Tests.Weights;

/// <summary>The registry rounds fp32 weights to a sampler's bf16 by hand; a sampler that cast them itself with libtorch
/// must hold the same bits, or delta sync's digests would never match.</summary>
public sealed class WeightCastTests
{
    [Fact]
    public void Fp32_to_bf16_rounds_like_libtorch_bit_for_bit()
    {
        var random = new Random(5);
        var values = Enumerable.Range(0, 100_000).Select(_ => (float)((random.NextDouble() - 0.5) * Math.Pow(10, random.Next(-40, 39)))).ToList();
        // Ties both ways (low half exactly 0x8000 over an even and an odd upper half), subnormals, extremes, zeros.
        values.AddRange([BitConverter.Int32BitsToSingle(0x3F808000), BitConverter.Int32BitsToSingle(0x3F818000), BitConverter.Int32BitsToSingle(0x00008000),
            BitConverter.Int32BitsToSingle(0x00000001), float.MaxValue, float.MinValue, float.Epsilon, 0f, -0f, float.PositiveInfinity, float.NegativeInfinity]);
        var fp32 = new TensorBytes("w", "F32", [values.Count], MemoryMarshal.AsBytes(values.ToArray().AsSpan()).ToArray());

        var byHand = Assert.Single(WeightCast.To([fp32], "BF16"));
        using var scope = NewDisposeScope();
        var byTorch = TorchTensors.FromTorch("w", TorchTensors.ToTorch(fp32).to(ScalarType.BFloat16));

        Assert.Equal("BF16", byHand.DType);
        Assert.Equal(byTorch.Data, byHand.Data);
    }

    [Fact]
    public void Bf16_widens_to_fp32_exactly_and_a_tensor_already_in_the_dtype_is_not_copied()
    {
        var fp32 = new TensorBytes("w", "F32", [4], MemoryMarshal.AsBytes(new[] { 1.5f, -2.25f, 3e-3f, 7e20f }.AsSpan()).ToArray());
        var counts = new TensorBytes("n", "I64", [1], new byte[8]);

        var bf16 = WeightCast.To([fp32, counts], "BF16");
        var back = WeightCast.To(bf16, "F32");

        Assert.Same(counts, bf16[1]);
        Assert.Equal(bf16[0].Data, WeightCast.To(back, "BF16")[0].Data);
        Assert.Equal([1.5f, -2.25f], MemoryMarshal.Cast<byte, float>(back[0].Data)[..2].ToArray());
        Assert.Same(fp32, WeightCast.To([fp32], "F32")[0]);
        Assert.Contains("not 'F16'", Assert.Throws<ArgumentException>(() => WeightCast.To([fp32], "F16")).Message);
    }
}
