using RlhfActors.Training.Peft;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace RlhfActors.Tests.Peft;

public sealed class Nf4TensorTests(ITestOutputHelper output)
{
    const int Block = 64;
    const int ScaleBlock = 256;

    static Tensor Normal(long rows, long cols, long seed)
    {
        var g = new Generator((ulong)seed);
        return randn(new[] { rows, cols }, generator: g);
    }

    static Tensor BlockAbsmax(Tensor w) => w.reshape(-1, Block).abs().amax(new long[] { 1 });

    /// <summary>Same dtype, shape and every element (torch.equal).</summary>
    static bool Same(Tensor a, Tensor b) =>
        a.dtype == b.dtype && a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();

    static Tensor Code() => tensor(Nf4CodeBook.Values.ToArray());

    void Report(string what, Tensor err) =>
        output.WriteLine($"{what}: mean |err| {err.mean().item<float>():G4}, max |err| {err.max().item<float>():G4}");

    [Fact]
    public void Code_book_is_the_nf4_table_with_exact_zero_and_ends()
    {
        Assert.Equal(16, Nf4CodeBook.Values.Count);
        Assert.Equal(-1f, Nf4CodeBook.Values[0]);
        Assert.Equal(0f, Nf4CodeBook.Values[Nf4CodeBook.ZeroCode]);
        Assert.Equal(1f, Nf4CodeBook.Values[15]);
        for (int i = 0; i < 15; i++) Assert.True(Nf4CodeBook.Values[i] < Nf4CodeBook.Values[i + 1]);
        // The widest gap is between -1 and -0.6962.
        Assert.Equal((1f - 0.6961928009986877f) / 2, Nf4CodeBook.MaxHalfGap, 6);
    }

    [Fact]
    public void Round_trip_error_is_within_half_the_widest_code_gap_times_block_absmax()
    {
        using var scope = NewDisposeScope();
        var w = Normal(256, 384, seed: 1);
        using var nf = Nf4Tensor.Quantize(w, Block, doubleQuant: false);
        var deq = nf.Dequantize(ScalarType.Float32);
        Assert.Equal(w.shape, deq.shape);
        var err = (w - deq).abs().view(-1, Block);
        var bound = BlockAbsmax(w).unsqueeze(1) * Nf4CodeBook.MaxHalfGap + 1e-6;
        Assert.True((err <= bound).all().item<bool>(), $"worst err/bound {(err / bound).max().item<float>()}");
        Report("NF4, fp32 absmax, N(0,1) [256, 384]", err);
    }

    [Fact]
    public void Values_that_are_code_times_absmax_round_trip_exactly_and_pack_their_codes()
    {
        using var scope = NewDisposeScope();
        var g = new Generator(7);
        const long blocks = 96;
        var idx = randint(0, 16, new[] { blocks, (long)Block }, generator: g);
        // Column 0 holds ±1 so each block's absmax is exactly its scale.
        idx[.., 0] = where(rand(blocks, generator: g) < 0.5, tensor(0L), tensor(15L));
        var scale = rand(blocks, generator: g) * 3 + 0.01;
        var w = (Code().index_select(0, idx.view(-1)).view(blocks, Block) * scale.unsqueeze(1)).view(24, 256);

        using var nf = Nf4Tensor.Quantize(w, Block, doubleQuant: false);
        Assert.True(Same(w, nf.Dequantize(ScalarType.Float32)), "code × absmax must round-trip bit-exactly");
        var flat = idx.view(-1, 2);
        var expected = (flat[.., 0] * 16 + flat[.., 1]).to(ScalarType.Byte);
        Assert.True(Same(expected, nf.PackedCodes), "packed bytes must be (first << 4) | second");
    }

    [Fact]
    public void Double_quant_error_is_within_code_gap_plus_half_a_scale_step()
    {
        using var scope = NewDisposeScope();
        var w = Normal(256, 384, seed: 2);
        using var nf = Nf4Tensor.Quantize(w, Block, doubleQuant: true, scaleBlockSize: ScaleBlock);
        Assert.True(nf.DoubleQuant);
        var deq = nf.Dequantize(ScalarType.Float32);

        // Derived bound. x ≈ code·a with |x − code·a| ≤ MaxHalfGap·a; the stored â = q·s + mean with
        // s = max|a − mean| / 127 over the 256-block and q = round((a − mean)/s), so |â − a| ≤ s/2, and
        // |code·a − code·â| ≤ |code|·s/2 ≤ s/2 because |code| ≤ 1.
        var amax = BlockAbsmax(w);
        long n = amax.NumberOfElements, padded = (n + ScaleBlock - 1) / ScaleBlock * ScaleBlock;
        var centred = nn.functional.pad(amax - amax.mean(), new long[] { 0, padded - n }).view(-1, ScaleBlock);
        var s = (centred.abs().amax(new long[] { 1 }) / 127).repeat_interleave(ScaleBlock).narrow(0, 0, n);
        var err = (w - deq).abs().view(-1, Block);
        var bound = (amax * Nf4CodeBook.MaxHalfGap + s / 2).unsqueeze(1) + 2e-6;
        Assert.True((err <= bound).all().item<bool>(), $"worst err/bound {(err / bound).max().item<float>()}");
        output.WriteLine($"scale step s: max {s.max().item<float>():G4} (absmax mean {amax.mean().item<float>():G4})");
        Report("NF4, double-quantised absmax, N(0,1) [256, 384]", err);
    }

    [Fact]
    public void Storage_bytes_count_packed_codes_and_scales_as_held()
    {
        using var scope = NewDisposeScope();
        var w = Normal(256, 384, seed: 3);
        const long numel = 256 * 384, blocks = numel / Block;          // 1536 blocks → 6 scale blocks
        using (var plain = Nf4Tensor.Quantize(w, Block, doubleQuant: false))
            Assert.Equal(numel / 2 + 4 * blocks, plain.StorageBytes);
        using (var dq = Nf4Tensor.Quantize(w, Block, doubleQuant: true))
            Assert.Equal(numel / 2 + blocks + 4 * 6 + 4, dq.StorageBytes);
        // 10 blocks: one scale block padded to 256 int8 values.
        using (var small = Nf4Tensor.Quantize(Normal(10, 64, seed: 4), Block, doubleQuant: true))
        {
            Assert.Equal(320 + 256 + 4 + 4, small.StorageBytes);
            Assert.Equal(new long[] { 10, 64 }, small.Shape);
            Assert.Equal(Block, small.BlockSize);
        }
    }

    [Fact]
    public void First_element_goes_to_the_high_nibble()
    {
        using var scope = NewDisposeScope();
        var values = new float[Block];
        values[0] = 1f;                              // code 15
        values[1] = 0f;                              // code 7
        values[2] = -1f;                             // code 0
        values[3] = 0.5626170039176941f;             // code 13
        values[4] = -0.09105003625154495f;           // code 6
        values[5] = 0.07958029955625534f;            // code 8
        using var nf = Nf4Tensor.Quantize(tensor(values).view(1, Block), Block, doubleQuant: false);
        var bytes = nf.PackedCodes.cpu().data<byte>().ToArray();
        Assert.Equal(Block / 2, bytes.Length);
        Assert.Equal(0xF7, bytes[0]);
        Assert.Equal(0x0D, bytes[1]);
        Assert.Equal(0x68, bytes[2]);
        Assert.Equal(0x77, bytes[3]);                // zeros
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Zero_blocks_dequantise_to_exact_zeros(bool doubleQuant)
    {
        using var scope = NewDisposeScope();
        var w = Normal(4, Block, seed: 5);
        w[0] = zeros(Block);
        w[2] = zeros(Block);
        using var nf = Nf4Tensor.Quantize(w, Block, doubleQuant);
        var deq = nf.Dequantize(ScalarType.Float32);
        Assert.False(deq.isnan().any().item<bool>());
        Assert.True(Same(zeros(Block), deq[0]));
        Assert.True(Same(zeros(Block), deq[2]));

        using var allZero = Nf4Tensor.Quantize(zeros(8, Block), Block, doubleQuant);
        Assert.True(Same(zeros(8, Block), allZero.Dequantize(ScalarType.BFloat16).to(ScalarType.Float32)));
    }

    [Fact]
    public void Element_count_not_divisible_by_block_size_is_rejected_with_the_shape()
    {
        using var scope = NewDisposeScope();
        var ex = Assert.Throws<ArgumentException>(() => Nf4Tensor.Quantize(ones(3, 7)));
        Assert.Contains("[3, 7]", ex.Message);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Bf16_dequant_is_the_fp32_dequant_rounded_once(bool doubleQuant)
    {
        using var scope = NewDisposeScope();
        var w = Normal(128, 192, seed: 6).to(ScalarType.BFloat16);
        using var nf = Nf4Tensor.Quantize(w, Block, doubleQuant);
        var bf = nf.Dequantize(ScalarType.BFloat16);
        Assert.Equal(ScalarType.BFloat16, bf.dtype);
        Assert.True(Same(nf.Dequantize(ScalarType.Float32).to(ScalarType.BFloat16), bf));
    }

    [Fact]
    public void Nf4_has_lower_mse_than_uniform_int4_on_normal_weights()
    {
        using var scope = NewDisposeScope();
        var w = Normal(512, 512, seed: 8);
        var blocks = w.view(-1, Block);
        var a = BlockAbsmax(w).unsqueeze(1);
        // int4 absmax: 16 uniform levels k/7·a, k = -8..7 (only -7..7 are reachable from |x| ≤ a).
        var int4 = (blocks / a * 7).round().clamp(-8, 7) * a / 7;
        // 16 uniform levels spanning [-a, a] (no exact zero), the other common uniform 4-bit grid.
        var uniform16 = (((blocks / a + 1) * 7.5).round() / 7.5 - 1) * a;
        double Mse(Tensor d) => (blocks - d).square().mean().item<float>();

        using var nf = Nf4Tensor.Quantize(w, Block, doubleQuant: false);
        using var nfDq = Nf4Tensor.Quantize(w, Block, doubleQuant: true);
        double nf4 = Mse(nf.Dequantize(ScalarType.Float32).view(-1, Block));
        double nf4Dq = Mse(nfDq.Dequantize(ScalarType.Float32).view(-1, Block));
        double i4 = Mse(int4), u16 = Mse(uniform16);
        output.WriteLine($"MSE on N(0,1) [512, 512], block 64: NF4 {nf4:G4}, NF4+DQ {nf4Dq:G4}, int4 absmax {i4:G4}, uniform 16-level {u16:G4}");
        Assert.True(nf4 < i4, $"NF4 {nf4} vs int4 {i4}");
        Assert.True(nf4 < u16, $"NF4 {nf4} vs uniform16 {u16}");
        Assert.True(nf4Dq < i4, $"NF4+DQ {nf4Dq} vs int4 {i4}");
    }

    [Fact]
    public void Held_tensors_outlive_the_callers_scope_and_copies_are_independent()
    {
        Nf4Tensor nf;
        Tensor reference;
        using (var outer = NewDisposeScope())
        {
            var w = Normal(16, 128, seed: 9);
            nf = Nf4Tensor.Quantize(w, Block);
            reference = nf.Dequantize(ScalarType.Float32).DetachFromDisposeScope();
        }
        using (nf)
        using (reference)
        using (var scope = NewDisposeScope())
        {
            Assert.True(Same(reference, nf.Dequantize(ScalarType.Float32)));
            using var copy = nf.To(CPU);
            Assert.Equal(nf.StorageBytes, copy.StorageBytes);
            Assert.True(Same(reference, copy.Dequantize(ScalarType.Float32)));
        }
    }
}
