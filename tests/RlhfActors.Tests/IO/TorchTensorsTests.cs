using System.Buffers.Binary;
using RlhfActors.Training.IO;
using RlhfActors.Training.Weights;
using TorchSharp;
using static TorchSharp.torch;

namespace RlhfActors.Tests.IO;

public sealed class TorchTensorsTests
{
    [Fact]
    public void Fp32_round_trip_is_exact_and_keeps_shape()
    {
        using var scope = NewDisposeScope();
        var original = randn(3, 5, generator: new Generator(1));
        var bytes = TorchTensors.FromTorch("w", original);

        Assert.Equal("F32", bytes.DType);
        Assert.Equal(new long[] { 3, 5 }, bytes.Shape);
        Assert.Equal(original.data<float>().ToArray()[7], BitConverter.ToSingle(bytes.Data, 7 * 4));
        var back = TorchTensors.ToTorch(bytes);
        Assert.Equal(ScalarType.Float32, back.dtype);
        Assert.True(back.eq(original).all().item<bool>());
    }

    [Fact]
    public void Bf16_round_trip_is_bit_for_bit()
    {
        using var scope = NewDisposeScope();
        // Every 16-bit pattern that is not a NaN, including subnormals, ±0 and ±inf.
        var patterns = Enumerable.Range(0, 65536).Select(i => (ushort)i)
            .Where(b => (b & 0x7F80) != 0x7F80 || (b & 0x007F) == 0).ToArray();
        var data = new byte[patterns.Length * 2];
        for (var i = 0; i < patterns.Length; i++) BinaryPrimitives.WriteUInt16LittleEndian(data.AsSpan(i * 2), patterns[i]);
        var source = new TensorBytes("bf", "BF16", new long[] { patterns.Length }, data);

        var tensor = TorchTensors.ToTorch(source);
        Assert.Equal(ScalarType.BFloat16, tensor.dtype);
        // Values, not just bytes: 1.0 is 0x3F80 in bf16.
        var one = Array.IndexOf(patterns, (ushort)0x3F80);
        Assert.Equal(1.0f, tensor[one].to(ScalarType.Float32).item<float>());
        var back = TorchTensors.FromTorch("bf", tensor);
        Assert.Equal(data, back.Data);
        Assert.Equal("BF16", back.DType);
    }

    [Fact]
    public void F16_and_i64_round_trip_exact()
    {
        using var scope = NewDisposeScope();
        var longs = tensor(new long[] { long.MinValue, -1, 0, 1, long.MaxValue });
        var i64 = TorchTensors.FromTorch("ids", longs);
        Assert.Equal("I64", i64.DType);
        Assert.Equal(long.MaxValue, BitConverter.ToInt64(i64.Data, 32));
        Assert.True(TorchTensors.ToTorch(i64).eq(longs).all().item<bool>());

        var half = randn(4, 4, generator: new Generator(2)).to(ScalarType.Float16);
        var f16 = TorchTensors.FromTorch("h", half);
        Assert.Equal("F16", f16.DType);
        Assert.True(TorchTensors.ToTorch(f16).eq(half).all().item<bool>());
    }

    [Fact]
    public void Non_contiguous_input_is_written_row_major_and_left_alive()
    {
        using var scope = NewDisposeScope();
        var m = arange(6, dtype: ScalarType.Float32).reshape(2, 3);
        var transposed = m.t();
        var bytes = TorchTensors.FromTorch("t", transposed);

        Assert.Equal(new long[] { 3, 2 }, bytes.Shape);
        var floats = Enumerable.Range(0, 6).Select(i => BitConverter.ToSingle(bytes.Data, i * 4)).ToArray();
        Assert.Equal(new float[] { 0, 3, 1, 4, 2, 5 }, floats);
        Assert.Equal(5f, transposed[2, 1].item<float>()); // not disposed by FromTorch
    }

    [Fact]
    public void Bool_u8_and_empty_tensors_round_trip()
    {
        using var scope = NewDisposeScope();
        var flags = new TensorBytes("m", "BOOL", new long[] { 2, 2 }, new byte[] { 1, 0, 0, 1 });
        Assert.Equal(ScalarType.Bool, TorchTensors.ToTorch(flags).dtype);
        Assert.Equal(flags.Data, TorchTensors.FromTorch("m", TorchTensors.ToTorch(flags)).Data);

        var empty = new TensorBytes("e", "F32", new long[] { 0, 3 }, Array.Empty<byte>());
        var t = TorchTensors.ToTorch(empty);
        Assert.Equal(new long[] { 0, 3 }, t.shape);
        Assert.Empty(TorchTensors.FromTorch("e", t).Data);
    }

    [Fact]
    public void Wrong_byte_count_is_an_argument_error_naming_the_tensor()
    {
        var bad = new TensorBytes("layer.q", "F32", new long[] { 2 }, new byte[7]);
        var e = Assert.Throws<ArgumentException>(() => TorchTensors.ToTorch(bad));
        Assert.Contains("layer.q", e.Message);
    }
}
